//! `capsock:sockets/descriptors`: file I/O on descriptors a guest holds.

use std::fs::File;
use std::io::{self, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, MetadataExt};

use wasmtime::component::Resource;

use crate::bindings::descriptors::{DescriptorStat, Host, HostDescriptor, SeekFrom};
use crate::bindings::types::{DescriptorKind, ErrorCode, SocketType};
use crate::ctx::CapsockCtxView;
use crate::error::CapsockResult;
use crate::handles::{kind_of, Descriptor};
use crate::sys;

/// Retries an I/O call interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl CapsockCtxView<'_> {
    fn file(&self, d: &Resource<Descriptor>) -> CapsockResult<&File> {
        Ok(self.table.get(d)?.file()?)
    }

    /// `read(2)` or `pread(2)` of up to `len` bytes (refused above the
    /// message limit) into a new buffer, without zero-filling it first.
    fn read_new(
        &self,
        d: &Resource<Descriptor>,
        len: u64,
        offset: Option<u64>,
    ) -> CapsockResult<Vec<u8>> {
        let len = match usize::try_from(len) {
            Ok(len) if len <= self.ctx.limits.max_message_bytes => len,
            _ => return Err(ErrorCode::LimitReached.into()),
        };
        let mut buf = Vec::new();
        sys::read_into(self.file(d)?.as_fd(), &mut buf, len, offset)?;
        Ok(buf)
    }
}

impl HostDescriptor for CapsockCtxView<'_> {
    fn get_kind(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<DescriptorKind> {
        Ok(self.table.get(&d)?.kind())
    }

    fn get_socket_type(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<Option<SocketType>> {
        Ok(self.table.get(&d)?.socket_type())
    }

    fn read(&mut self, d: Resource<Descriptor>, len: u64) -> CapsockResult<Vec<u8>> {
        self.read_new(&d, len, None)
    }

    fn write(&mut self, d: Resource<Descriptor>, data: Vec<u8>) -> CapsockResult<u64> {
        let mut file = self.file(&d)?;
        Ok(retry(|| file.write(&data))? as u64)
    }

    fn read_at(
        &mut self,
        d: Resource<Descriptor>,
        len: u64,
        offset: u64,
    ) -> CapsockResult<Vec<u8>> {
        self.read_new(&d, len, Some(offset))
    }

    fn write_at(
        &mut self,
        d: Resource<Descriptor>,
        data: Vec<u8>,
        offset: u64,
    ) -> CapsockResult<u64> {
        let file = self.file(&d)?;
        Ok(retry(|| file.write_at(&data, offset))? as u64)
    }

    fn seek(&mut self, d: Resource<Descriptor>, from: SeekFrom) -> CapsockResult<u64> {
        let mut file = self.file(&d)?;
        let pos = match from {
            SeekFrom::Start(n) => io::SeekFrom::Start(n),
            SeekFrom::Current(n) => io::SeekFrom::Current(n),
            SeekFrom::End(n) => io::SeekFrom::End(n),
        };
        Ok(file.seek(pos)?)
    }

    fn stat(&mut self, d: Resource<Descriptor>) -> CapsockResult<DescriptorStat> {
        let m = self.file(&d)?.metadata()?;
        Ok(DescriptorStat {
            kind: kind_of(m.file_type()),
            size: m.size(),
            mode: m.mode() & 0o7777,
            link_count: m.nlink(),
            inode: m.ino(),
            device: m.dev(),
        })
    }

    fn duplicate(&mut self, d: Resource<Descriptor>) -> CapsockResult<Resource<Descriptor>> {
        self.check_room(1)?;
        let copy = self.file(&d)?.try_clone()?;
        self.push_descriptor(Descriptor::new(copy.into()))
    }

    fn drop(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.delete(d)
    }
}

impl Host for CapsockCtxView<'_> {}
