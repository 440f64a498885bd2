//! Bearer-token authentication, shared by the balance route and the billing API.
//!
//! For the billing API authentication is an extractor, so that it runs before anything about
//! the path or body is looked at: an anonymous caller learns nothing, not even whether an id is
//! well formed. The balance route hands the token to its use case, which reads the token and
//! the organization in one storage call and still authenticates first.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use payments_domain::auth::{self, Principal};
use payments_domain::usecases::AuthenticationError;

use crate::error::{request_id_of, ApiError, Rejection};
use crate::ApiState;

/// The `Authorization` header, copied out so that futures do not borrow the request;
/// `Err` when it is not visible ASCII.
type Authorization = Option<Result<String, ()>>;

fn authorization_of(request: &HttpRequest) -> Authorization {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().map(str::to_owned).map_err(|_| ()))
}

fn state_of(request: &HttpRequest) -> Result<web::Data<ApiState>, ApiError> {
    request
        .app_data::<web::Data<ApiState>>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("ApiState is not registered in the app");
            ApiError::Internal
        })
}

/// The bearer token of an `Authorization` header, `None` without one; a header that is not
/// visible ASCII holds no token we could have issued.
fn bearer_in(header: Option<Result<&str, ()>>) -> Result<Option<&str>, AuthenticationError> {
    match header {
        None => Ok(None),
        Some(Ok(value)) => Ok(auth::bearer_token(value)),
        Some(Err(())) => Err(AuthenticationError::Invalid),
    }
}

/// The principal of the request's bearer token.
async fn authenticate(
    state: &ApiState,
    authorization: &Authorization,
) -> Result<Principal, ApiError> {
    let token = bearer_in(
        authorization
            .as_ref()
            .map(|value| value.as_deref().map_err(drop)),
    )?;
    Ok(state.authenticate.execute(token).await?)
}

/// The request's bearer token (see [`bearer_in`]), for the balance read.
pub(crate) fn bearer_of(request: &HttpRequest) -> Result<Option<&str>, AuthenticationError> {
    bearer_in(
        request
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().map_err(drop)),
    )
}

/// An authenticated billing request: who calls, the request id its envelope carries, and the
/// use cases. Billing always needs a token, legacy open mode or not.
pub(crate) struct Call {
    pub principal: Principal,
    pub request_id: String,
    pub state: web::Data<ApiState>,
}

impl Call {
    /// Turns any error into this request's enveloped rejection, for `map_err`.
    pub(crate) fn fail<E: Into<ApiError>>(&self) -> impl Fn(E) -> Rejection + '_ {
        move |error| Rejection {
            error: error.into(),
            request_id: self.request_id.clone(),
        }
    }
}

impl FromRequest for Call {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Rejection>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = state_of(request);
        let authorization = authorization_of(request);
        let request_id = request_id_of(request);
        Box::pin(async move {
            let outcome = match state {
                Ok(state) => authenticate(&state, &authorization)
                    .await
                    .and_then(|principal| {
                        // Counted per token, after authentication: an anonymous caller cannot
                        // spend anyone's quota.
                        state
                            .rate_limit
                            .check(principal.token_id().0)
                            .map_err(|wait| ApiError::TooManyRequests {
                                retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
                            })?;
                        Ok((principal, state))
                    }),
                Err(error) => Err(error),
            };
            match outcome {
                Ok((principal, state)) => Ok(Self {
                    principal,
                    request_id,
                    state,
                }),
                Err(error) => Err(Rejection { error, request_id }),
            }
        })
    }
}
