//! Sockets from the `/proc/net/{tcp,tcp6,udp,udp6}` text tables, parsed by
//! the `procfs` crate (hex addresses in the kernel's byte order): the
//! fallback when netlink is unavailable, and the only way to see another
//! network namespace than ours (through `<proc>/<pid>/net`).

use std::path::Path;

use anyhow::Context;
use procfs::FromReadSI;
use procfs::net::{TcpNetEntries, UdpNetEntries};

use super::{Protocol, Socket, SocketState};

/// A [`Socket`] from a `TcpNetEntry` or a `UdpNetEntry`: two crate types
/// with the same fields and no common trait.
macro_rules! to_socket {
    ($protocol:expr, $entry:expr) => {
        Socket {
            protocol: $protocol,
            // procfs rejects states the kernel does not define, and every
            // state it defines is one of ours.
            state: SocketState::from_kernel($entry.state.to_u8()).unwrap_or(SocketState::Close),
            local: $entry.local_address,
            remote: $entry.remote_address,
            rx_queue: $entry.rx_queue,
            tx_queue: $entry.tx_queue,
            uid: $entry.uid,
            inode: $entry.inode,
        }
    };
}

/// Every socket of the four tables under `net_dir` (e.g. `/proc/net` or
/// `/host/proc/1/net`). A missing `tcp6`/`udp6` (IPv6 disabled) is no
/// error; a missing `tcp`/`udp` is.
pub(super) fn read(net_dir: &Path) -> anyhow::Result<Vec<Socket>> {
    let mut sockets = Vec::new();
    for (name, required) in [("tcp", true), ("tcp6", false)] {
        if let Some(table) = read_table::<TcpNetEntries>(net_dir, name, required)? {
            sockets.extend(table.0.iter().map(|e| to_socket!(Protocol::Tcp, e)));
        }
    }
    for (name, required) in [("udp", true), ("udp6", false)] {
        if let Some(table) = read_table::<UdpNetEntries>(net_dir, name, required)? {
            sockets.extend(table.0.iter().map(|e| to_socket!(Protocol::Udp, e)));
        }
    }
    Ok(sockets)
}

/// `None` when a table that is not `required` does not exist.
fn read_table<T: FromReadSI>(
    net_dir: &Path,
    name: &str,
    required: bool,
) -> anyhow::Result<Option<T>> {
    let path = net_dir.join(name);
    match T::from_file(&path, procfs::current_system_info()) {
        Ok(table) => Ok(Some(table)),
        Err(procfs::ProcError::NotFound(_)) if !required => Ok(None),
        Err(error) => Err(error).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::socket;
    use super::*;

    // Recorded on this machine kind (x86_64): a listener on 127.0.0.1:43857
    // with one client and the accepted socket holding 5 unread bytes, the
    // same on [::1]:45827, an unconnected UDP socket on 127.0.0.1:56512
    // and a UDP socket on [::1]:57881 connected to [::1]:53. Addresses
    // are the kernel's 32-bit words printed in host (little-endian) order.
    // The client row's uid was changed to 1000 to tell the columns apart.
    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   1: 0100007F:AB51 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 207242 1 0000000053822965 100 0 0 10 0
   2: 0100007F:E136 0100007F:AB51 01 00000000:00000000 00:00000000 00000000  1000        0 207243 2 000000008bee042d 20 0 0 11 -1
   3: 0100007F:AB51 0100007F:E136 01 00000000:00000005 00:00000000 00000000     0        0 207244 1 0000000049141819 20 4 30 10 -1
";
    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:B303 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 207239 1 0000000076d048ad 100 0 0 10 0
   1: 00000000000000000000000001000000:A156 00000000000000000000000001000000:B303 01 00000000:00000000 00:00000000 00000000     0        0 207240 2 00000000736d7e75 20 0 0 10 -1
";
    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  154: 0100007F:DCC0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 207245 2 0000000035ccaf20 0
";
    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
 1523: 00000000000000000000000001000000:E219 00000000000000000000000001000000:0035 01 00000000:00000000 00:00000000 00000000     0        0 207246 2 000000002fa3c03f 0
";

    fn net_dir(tables: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in tables {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn reads_recorded_tables() {
        let dir = net_dir(&[("tcp", TCP), ("tcp6", TCP6), ("udp", UDP), ("udp6", UDP6)]);
        use Protocol::{Tcp, Udp};
        use SocketState::{Close, Established, Listen};
        let expected = [
            Socket {
                inode: 207242,
                ..socket(Tcp, Listen, "127.0.0.1:43857", "0.0.0.0:0")
            },
            Socket {
                inode: 207243,
                uid: 1000,
                ..socket(Tcp, Established, "127.0.0.1:57654", "127.0.0.1:43857")
            },
            Socket {
                inode: 207244,
                rx_queue: 5,
                ..socket(Tcp, Established, "127.0.0.1:43857", "127.0.0.1:57654")
            },
            Socket {
                inode: 207239,
                ..socket(Tcp, Listen, "[::1]:45827", "[::]:0")
            },
            Socket {
                inode: 207240,
                ..socket(Tcp, Established, "[::1]:41302", "[::1]:45827")
            },
            Socket {
                inode: 207245,
                ..socket(Udp, Close, "127.0.0.1:56512", "0.0.0.0:0")
            },
            Socket {
                inode: 207246,
                ..socket(Udp, Established, "[::1]:57881", "[::1]:53")
            },
        ];
        assert_eq!(read(dir.path()).unwrap(), expected);
    }

    #[test]
    fn ipv6_tables_are_optional_and_ipv4_ones_are_not() {
        let dir = net_dir(&[("tcp", TCP), ("udp", UDP)]);
        assert_eq!(read(dir.path()).unwrap().len(), 4);
        let dir = net_dir(&[("tcp6", TCP6), ("udp", UDP)]);
        let error = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(error.contains("/tcp"), "{error}");
    }
}
