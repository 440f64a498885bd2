//! The page frame (navigation, sign-out, notices) and how values are shown: amounts with
//! their currency code, instants and dates in ISO format.

use chrono::{DateTime, NaiveDate, Utc};
use maud::{html, Markup, DOCTYPE};
use payments_domain::console::CsrfToken;
use payments_domain::pagination::Page as ListPage;
use payments_domain::usecases::BillingError;
use payments_domain::Money;

use super::CSRF_FIELD;

/// `139.00 RUB`: every amount carries its currency code.
pub(crate) fn money(amount: &Money) -> String {
    format!("{} {}", amount, amount.currency().code())
}

/// A signed change of balance in minor units, with its currency: `+139.00 RUB`.
pub(crate) fn delta(previous: &Money, new: &Money) -> String {
    let sign = if new.amount() >= previous.amount() {
        "+"
    } else {
        "−"
    };
    let difference = (new.amount() - previous.amount()).abs();
    format!("{sign}{difference} {}", new.currency().code())
}

/// `2026-11-25 10:00 UTC` (ISO 8601 date and time).
pub(crate) fn instant(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `2026-11-25`.
pub(crate) fn date(day: &NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The result of an action, shown above the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    Success(String),
    Error(String),
}

impl Notice {
    /// A refused action, in the domain's words.
    pub fn from_error(error: &BillingError) -> Self {
        let text = match error {
            BillingError::Invalid(fields) => fields
                .iter()
                .map(|(field, reasons)| format!("{field}: {}", reasons.join(" ")))
                .collect::<Vec<_>>()
                .join("; "),
            BillingError::Storage(_) => "The service is temporarily unavailable. Try again.".into(),
            other => other.to_string(),
        };
        Self::Error(text)
    }

    pub fn render(&self) -> Markup {
        match self {
            Self::Success(text) => html! { p class="notice success" role="status" { (text) } },
            Self::Error(text) => html! { p class="notice error" role="alert" { (text) } },
        }
    }
}

/// The frame of a signed-in page.
pub(crate) struct Page<'a> {
    pub title: String,
    pub staff: bool,
    pub csrf: &'a CsrfToken,
}

impl Page<'_> {
    /// The hidden CSRF field of a form.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name=(CSRF_FIELD) value=(self.csrf.as_str()); }
    }

    /// The whole document: navigation, sign-out, the notice and `content`.
    pub fn render(&self, notice: Option<&Notice>, content: Markup) -> Markup {
        let nav: &[(&str, &str)] = if self.staff {
            &[
                ("/console/approvals", "Approvals"),
                ("/console/organizations", "Organizations"),
                ("/console/payments", "Payments"),
                ("/console/invoices", "Invoices"),
                ("/console/ledger", "Ledger"),
            ]
        } else {
            &[("/console/", "Home"), ("/console/payments", "Payments")]
        };
        document(
            &self.title,
            html! {
                header class="top" {
                    a class="brand" href="/console/" { "Payments console" }
                    nav aria-label="Main" {
                        ul {
                            @for (href, label) in nav {
                                li { a href=(href) { (label) } }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (self.title) }
                    @if let Some(notice) = notice { (notice.render()) }
                    (content)
                }
                // After the page in document order (shown at the top right by the CSS), so that
                // a page's own first input, such as the organization search, comes first.
                form method="post" action="/console/sign-out" class="sign-out" {
                    (self.csrf_field())
                    button type="submit" { "Sign out" }
                }
            },
        )
    }
}

/// A page without navigation (sign-in, errors).
pub(crate) fn bare(title: &str, content: Markup) -> Markup {
    document(title, content)
}

fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Payments console" }
                link rel="stylesheet" href="/console/console.css";
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                (body)
            }
        }
    }
}

/// "Previous / page N of M / Next" links; `link(page)` makes the URL of a page.
pub(crate) fn pager<T>(page: &ListPage<T>, link: impl Fn(u32) -> String) -> Markup {
    let size = u64::from(page.request.page_size.max(1));
    let pages = page.total.div_ceil(size).max(1);
    html! {
        @if pages > 1 {
            nav class="pager" aria-label="Pages" {
                @if page.has_previous() {
                    a href=(link(page.request.page - 1)) rel="prev" { "Previous" }
                }
                span { "Page " (page.request.page) " of " (pages) }
                @if page.has_next() {
                    a href=(link(page.request.page + 1)) rel="next" { "Next" }
                }
            }
        }
    }
}

/// Percent-encodes a query value.
pub(crate) fn query_value(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use payments_domain::Currency;

    #[test]
    fn amounts_carry_their_currency_code() {
        let amount = Money::parse("139", Currency::RUB).unwrap();
        assert_eq!(money(&amount), "139.00 RUB");
        let zero = Money::zero(Currency::RUB);
        assert_eq!(delta(&zero, &amount), "+139.00 RUB");
        assert_eq!(delta(&amount, &zero), "−139.00 RUB");
    }

    #[test]
    fn instants_are_iso() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(instant(&at), "2026-11-25 10:00 UTC");
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(query_value("a b&c=ü"), "a%20b%26c%3D%C3%BC");
    }

    #[test]
    fn text_is_escaped_in_notices() {
        let notice = Notice::Error("<script>".into()).render().into_string();
        assert!(notice.contains("&lt;script&gt;"));
    }
}
