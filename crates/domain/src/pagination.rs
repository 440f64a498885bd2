//! Page requests and pages of list endpoints.

/// Default page size of list endpoints.
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest page size a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Which page of a list, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

/// An invalid `page` or `page_size` parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    #[error("A valid integer is required.")]
    NotANumber,
    #[error("Ensure this value is greater than or equal to 1.")]
    TooSmall,
}

impl PageRequest {
    /// Parses the query parameters: absent means defaults; a page size above the maximum is
    /// clamped to it (as Django REST framework does).
    pub fn parse(
        page: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<Self, (&'static str, PageError)> {
        let number = |field: &'static str, text: &str| -> Result<u32, (&'static str, PageError)> {
            let value: u64 = text
                .trim()
                .parse()
                .map_err(|_| (field, PageError::NotANumber))?;
            if value == 0 {
                return Err((field, PageError::TooSmall));
            }
            Ok(u32::try_from(value).unwrap_or(u32::MAX))
        };
        let page = page.map(|p| number("page", p)).transpose()?.unwrap_or(1);
        let page_size = page_size
            .map(|p| number("page_size", p))
            .transpose()?
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .min(MAX_PAGE_SIZE);
        Ok(Self { page, page_size })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.page_size)
    }

    /// Rows to return.
    pub fn limit(&self) -> u64 {
        u64::from(self.page_size)
    }
}

/// One page of results plus the total count, for `count`, `next` and `previous`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// True when a later page has rows.
    pub fn has_next(&self) -> bool {
        self.request.offset() + (self.items.len() as u64) < self.total
    }

    /// True when this is not the first page.
    pub fn has_previous(&self) -> bool {
        self.request.page > 1
    }

    /// Converts the items, keeping the counts.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            request: self.request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_clamping_and_errors() {
        assert_eq!(
            PageRequest::parse(None, None).unwrap(),
            PageRequest::default()
        );
        assert_eq!(
            PageRequest::parse(Some("3"), Some("500"))
                .unwrap()
                .page_size,
            100
        );
        assert_eq!(
            PageRequest::parse(Some("0"), None),
            Err(("page", PageError::TooSmall))
        );
        assert_eq!(
            PageRequest::parse(None, Some("x")),
            Err(("page_size", PageError::NotANumber))
        );
        assert_eq!(
            PageRequest::parse(Some("3"), Some("10")).unwrap().offset(),
            20
        );
    }

    #[test]
    fn next_and_previous() {
        let page = Page {
            items: vec![1, 2],
            total: 5,
            request: PageRequest {
                page: 2,
                page_size: 2,
            },
        };
        assert!(page.has_next());
        assert!(page.has_previous());
        let last = Page {
            items: vec![5],
            total: 5,
            request: PageRequest {
                page: 3,
                page_size: 2,
            },
        };
        assert!(!last.has_next());
    }
}
