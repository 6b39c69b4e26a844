//! `capsock:sockets/preopens`: grants found by name, each taken once.

use wasmtime::component::Resource;

use crate::bindings::preopens::Host;
use crate::bindings::types::ErrorCode;
use crate::ctx::CapsockCtxView;
use crate::error::CapsockResult;
use crate::resources::Descriptor;

impl Host for CapsockCtxView<'_> {
    fn names(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.ctx.grants.iter().map(|(n, _)| n.clone()).collect())
    }

    fn take(&mut self, name: String) -> CapsockResult<Resource<Descriptor>> {
        let i = self
            .ctx
            .grants
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| {
                let granted: Vec<&str> = self.ctx.grants.iter().map(|(n, _)| n.as_str()).collect();
                tracing::debug!(
                    grant = name,
                    ?granted,
                    "the guest took a grant it was not given (or took it before)"
                );
                ErrorCode::NoEntry
            })?;
        // Check the limit before the grant leaves the list, so a refused
        // take loses nothing.
        self.check_room(1)?;
        let (_, fd) = self.ctx.grants.remove(i);
        self.push_descriptor(Descriptor::new(fd))
    }
}
