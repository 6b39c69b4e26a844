//! `capsock:sockets/types`: only the error conversion lives here.

use crate::bindings::types::{ErrorCode, Host};
use crate::ctx::CapsockCtxView;
use crate::error::CapsockError;

impl Host for CapsockCtxView<'_> {
    fn convert_error_code(&mut self, err: CapsockError) -> wasmtime::Result<ErrorCode> {
        err.into_code()
    }
}
