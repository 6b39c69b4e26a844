//! `capsock:sockets/descriptors`: file I/O on descriptors a guest holds.

use std::io::{self, Seek};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use wasmtime::component::Resource;
use wasmtime_wasi::p2::DynPollable;

use crate::bindings::descriptors::{DescriptorStat, Host, HostDescriptor, SeekFrom};
use crate::bindings::types::{DescriptorKind, ErrorCode, SocketType};
use crate::ctx::CapsockCtxView;
use crate::error::CapsockResult;
use crate::resources::{kind_of, Descriptor};
use crate::sys;
use crate::wait::Waiting;

use super::sync;

impl CapsockCtxView<'_> {
    fn descriptor(&self, d: &Resource<Descriptor>) -> CapsockResult<&Descriptor> {
        Ok(self.table.get(d)?)
    }

    /// A read of up to `len` bytes (at most the message limit: a short
    /// read), waiting in the thread or on the reactor (`how`).
    pub(super) async fn read_with(
        &mut self,
        d: &Resource<Descriptor>,
        len: u64,
        offset: Option<u64>,
        how: Waiting,
    ) -> CapsockResult<Vec<u8>> {
        let len = self.ctx.limits.receive_size(len);
        let io = self.table.get_mut(d)?.io()?;
        io.read(&self.ctx.interrupt, len, offset, how).await
    }

    fn set_descriptor_timeout(
        &mut self,
        d: Resource<Descriptor>,
        write: bool,
        ns: Option<u64>,
    ) -> CapsockResult<()> {
        if ns == Some(0) {
            return Err(ErrorCode::InvalidArgument.into());
        }
        let desc = self.table.get_mut(&d)?;
        desc.fd()?;
        let t = ns.map(Duration::from_nanos);
        if write {
            desc.modes.write_timeout = t;
        } else {
            desc.modes.read_timeout = t;
        }
        Ok(())
    }

    fn subscribe_descriptor(
        &mut self,
        d: Resource<Descriptor>,
        writable: bool,
    ) -> CapsockResult<Resource<DynPollable>> {
        let fd = self.table.get_mut(&d)?.shared_fd()?;
        self.subscribe_to(fd, writable)
    }
}

impl HostDescriptor for CapsockCtxView<'_> {
    fn pipe(&mut self) -> CapsockResult<(Resource<Descriptor>, Resource<Descriptor>)> {
        self.check_room(2)?;
        let (read, write) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map_err(io::Error::from)?;
        Ok((
            self.push_descriptor(Descriptor::new(read))?,
            self.push_descriptor(Descriptor::new(write))?,
        ))
    }

    fn from_filesystem(
        &mut self,
        file: Resource<wasmtime_wasi::filesystem::Descriptor>,
    ) -> CapsockResult<Resource<Descriptor>> {
        use wasmtime_wasi::filesystem::Descriptor as Wasi;
        use wasmtime_wasi::OpenMode;
        self.check_room(1)?;
        let f = match self.table.get(&file)? {
            Wasi::File(f) => f,
            Wasi::Dir(_) => return Err(ErrorCode::IsDirectory.into()),
        };
        let mut allowed = f.open_mode;
        if f.perms.write_not_permitted() {
            allowed.remove(OpenMode::WRITE);
        }
        // The fd's own access mode, which is what a receiver gets: never
        // more than the guest had through WASI.
        let mode = rustix::fs::fcntl_getfl(&*f.file).map_err(io::Error::from)?;
        let fd_mode = match mode & rustix::fs::OFlags::RWMODE {
            m if m == rustix::fs::OFlags::RDONLY => OpenMode::READ,
            m if m == rustix::fs::OFlags::WRONLY => OpenMode::WRITE,
            _ => OpenMode::READ | OpenMode::WRITE,
        };
        if !allowed.contains(fd_mode) {
            return Err(ErrorCode::AccessDenied.into());
        }
        let copy = f.file.try_clone()?;
        self.push_descriptor(Descriptor::new(copy.into()))
    }

    fn into_filesystem(
        &mut self,
        d: Resource<Descriptor>,
    ) -> CapsockResult<Resource<wasmtime_wasi::filesystem::Descriptor>> {
        use wasmtime_wasi::filesystem::{Descriptor as Wasi, Dir, File};
        use wasmtime_wasi::{FsPerms, OpenMode};
        let desc = self.table.get_mut(&d)?;
        let kind = desc.kind();
        if !matches!(
            kind,
            DescriptorKind::RegularFile | DescriptorKind::Directory
        ) {
            return Err(ErrorCode::NotSupported.into());
        }
        if kind == DescriptorKind::Directory {
            if !self.ctx.policy.received_directories {
                tracing::debug!("a received directory refused: the policy does not allow them");
                return Err(ErrorCode::AccessDenied.into());
            }
            if sys::is_kernel_interface_fs(desc.fd()?)? {
                tracing::debug!("a directory on a kernel interface filesystem refused");
                return Err(ErrorCode::AccessDenied.into());
            }
        }
        let flags = rustix::fs::fcntl_getfl(desc.fd()?).map_err(io::Error::from)?;
        let fd = desc.take_owned()?;
        // The handle's unit of the count goes along with the fd.
        let slot = desc.slot.take();
        // wasmtime-wasi runs file calls on tokio's blocking pool (as it
        // does for files it opens itself unless the embedder allowed
        // blocking): right for both sync and async embeddings.
        let (wasi, file) = if kind == DescriptorKind::Directory {
            // What the fd itself allows (`openat(2)` beneath it, whatever
            // its access mode), confined beneath it as a preopen is.
            let dir = Dir::new(
                fd.into(),
                FsPerms::ReadWrite,
                OpenMode::READ | OpenMode::WRITE,
                false,
            );
            let file = dir.dir.clone();
            (Wasi::Dir(dir), file)
        } else {
            let (perms, mode) = match flags & rustix::fs::OFlags::RWMODE {
                m if m == rustix::fs::OFlags::RDONLY => (FsPerms::ReadOnly, OpenMode::READ),
                m if m == rustix::fs::OFlags::WRONLY => (FsPerms::ReadWrite, OpenMode::WRITE),
                _ => (FsPerms::ReadWrite, OpenMode::READ | OpenMode::WRITE),
            };
            let file = File::new(fd.into(), perms, mode, false);
            let arc = file.file.clone();
            (Wasi::File(file), arc)
        };
        let pushed = self.table.push(wasi)?;
        if let Some(slot) = slot {
            self.ctx.lend(&file, slot);
        }
        Ok(pushed)
    }

    fn get_kind(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<DescriptorKind> {
        Ok(self.table.get(&d)?.kind())
    }

    fn get_socket_type(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<Option<SocketType>> {
        Ok(self.table.get(&d)?.socket_type())
    }

    fn read(&mut self, d: Resource<Descriptor>, len: u64) -> CapsockResult<Vec<u8>> {
        sync(self.read_with(&d, len, None, Waiting::Thread))
    }

    // `write` and `write-at` are replaced by `wit::fast`, which reads the
    // data in guest memory.
    fn write(&mut self, _: Resource<Descriptor>, _: Vec<u8>) -> CapsockResult<u64> {
        Err(super::fast::not_linked(super::fast::WRITE))
    }

    fn read_at(
        &mut self,
        d: Resource<Descriptor>,
        len: u64,
        offset: u64,
    ) -> CapsockResult<Vec<u8>> {
        sync(self.read_with(&d, len, Some(offset), Waiting::Thread))
    }

    fn write_at(&mut self, _: Resource<Descriptor>, _: Vec<u8>, _: u64) -> CapsockResult<u64> {
        Err(super::fast::not_linked(super::fast::WRITE_AT))
    }

    fn seek(&mut self, d: Resource<Descriptor>, from: SeekFrom) -> CapsockResult<u64> {
        let pos = match from {
            SeekFrom::Start(n) => io::SeekFrom::Start(n),
            SeekFrom::Current(n) => io::SeekFrom::Current(n),
            SeekFrom::End(n) => io::SeekFrom::End(n),
        };
        Ok(self.descriptor(&d)?.with_file(|mut f| f.seek(pos))??)
    }

    fn stat(&mut self, d: Resource<Descriptor>) -> CapsockResult<DescriptorStat> {
        let m = self.descriptor(&d)?.with_file(|f| f.metadata())??;
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
        let copy = self.descriptor(&d)?.with_file(|f| f.try_clone())??;
        self.push_descriptor(Descriptor::new(copy.into()))
    }

    fn set_nonblocking(&mut self, d: Resource<Descriptor>, enable: bool) -> CapsockResult<()> {
        let desc = self.table.get_mut(&d)?;
        sys::set_nonblocking(desc.fd()?, enable)?;
        desc.modes.nonblocking = enable;
        Ok(())
    }

    fn set_read_timeout(&mut self, d: Resource<Descriptor>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_descriptor_timeout(d, false, ns)
    }

    fn set_write_timeout(&mut self, d: Resource<Descriptor>, ns: Option<u64>) -> CapsockResult<()> {
        self.set_descriptor_timeout(d, true, ns)
    }

    fn subscribe(&mut self, d: Resource<Descriptor>) -> CapsockResult<Resource<DynPollable>> {
        self.subscribe_descriptor(d, false)
    }

    fn subscribe_writable(
        &mut self,
        d: Resource<Descriptor>,
    ) -> CapsockResult<Resource<DynPollable>> {
        self.subscribe_descriptor(d, true)
    }

    fn drop(&mut self, d: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.delete(d)
    }
}

impl Host for CapsockCtxView<'_> {}
