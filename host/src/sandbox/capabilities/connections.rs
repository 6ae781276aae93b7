//! The `connections` capability: queries of the host's sockets.
//!
//! The sockets come from the shared snapshot (one netlink dump and one
//! walk of the processes' fds per refresh, shared by every instance); a
//! query only filters them, so what a check can make the host do is
//! bounded by the snapshot's size and by the query's limits on pids and
//! states. The wait for the shared refresh ends at the run's deadline.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::component::{HasData, Linker};

use crate::sandbox::bindings::connections::{self as wit, ConnectionError, Host};
use crate::sandbox::budget::Budget;
use crate::sandbox::limits::LimitHit;
use crate::sandbox::store::HostState;
use crate::snapshot::connections::{Connection, ConnectionQuery, Direction, Protocol, SocketState};
use crate::snapshot::{FieldSet, SnapshotService};

/// This capability's part of a store.
pub struct ConnectionsCtx {
    /// None while `info` runs: it must not depend on the host.
    snapshots: Option<Arc<SnapshotService>>,
}

impl ConnectionsCtx {
    pub fn new(snapshots: Option<Arc<SnapshotService>>) -> Self {
        Self { snapshots }
    }
}

struct View<'a> {
    ctx: &'a ConnectionsCtx,
    budget: &'a mut Budget,
    deadline: Instant,
    timeout: LimitHit,
}

struct Capability;

impl HasData for Capability {
    type Data<'a> = View<'a>;
}

pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, Capability>(linker, |state| View {
        ctx: &state.connections,
        budget: &mut state.budget,
        deadline: state.deadline,
        timeout: state.timeout,
    })
}

impl Host for View<'_> {
    async fn query_connections(
        &mut self,
        query: wit::ConnectionQuery,
    ) -> wasmtime::Result<Result<Vec<wit::Connection>, ConnectionError>> {
        let Some(snapshots) = self.ctx.snapshots.clone() else {
            return Ok(Err(ConnectionError::Unavailable(
                "connections cannot be queried during `info`".into(),
            )));
        };
        let query = to_query(query);
        let fields = FieldSet {
            connections: true,
            ..FieldSet::NONE
        };
        let deadline = tokio::time::Instant::from_std(self.deadline);
        let snapshot = match tokio::time::timeout_at(deadline, snapshots.get(fields)).await {
            Err(_elapsed) => return Err(self.budget.fail(self.timeout)),
            Ok(Err(e)) => {
                return Ok(Err(ConnectionError::Unavailable(format!(
                    "reading the host's sockets failed: {e:#}"
                ))));
            }
            Ok(Ok(snapshot)) => snapshot,
        };
        let Some(connections) = &snapshot.connections else {
            return Ok(Err(ConnectionError::Unavailable(
                "the host's sockets could not be read (netlink and /proc/net both failed; \
                 the runner's log says why)"
                    .into(),
            )));
        };
        // Filtering is linear in the sockets (and log in the pids): cheap
        // enough to run here rather than on a blocking thread.
        Ok(match connections.query(&query) {
            Ok(rows) => Ok(rows.into_iter().map(to_wit_connection).collect()),
            Err(error) => Err(ConnectionError::InvalidQuery(error.to_string())),
        })
    }
}

/// The guest's query as the snapshot's.
fn to_query(query: wit::ConnectionQuery) -> ConnectionQuery {
    ConnectionQuery {
        pids: query.pids,
        port: query.port,
        states: query.states.into_iter().map(from_wit_state).collect(),
        listening_only: query.listening_only,
        direction: query.direction.map(from_wit_direction),
        protocol: query.protocol.map(|p| match p {
            wit::Protocol::Tcp => Protocol::Tcp,
            wit::Protocol::Udp => Protocol::Udp,
        }),
    }
}

fn from_wit_state(state: wit::SocketState) -> SocketState {
    use wit::SocketState as W;
    match state {
        W::Established => SocketState::Established,
        W::SynSent => SocketState::SynSent,
        W::SynRecv => SocketState::SynRecv,
        W::FinWait1 => SocketState::FinWait1,
        W::FinWait2 => SocketState::FinWait2,
        W::TimeWait => SocketState::TimeWait,
        W::Close => SocketState::Close,
        W::CloseWait => SocketState::CloseWait,
        W::LastAck => SocketState::LastAck,
        W::Listen => SocketState::Listen,
        W::Closing => SocketState::Closing,
        W::NewSynRecv => SocketState::NewSynRecv,
    }
}

fn to_wit_state(state: SocketState) -> wit::SocketState {
    use wit::SocketState as W;
    match state {
        SocketState::Established => W::Established,
        SocketState::SynSent => W::SynSent,
        SocketState::SynRecv => W::SynRecv,
        SocketState::FinWait1 => W::FinWait1,
        SocketState::FinWait2 => W::FinWait2,
        SocketState::TimeWait => W::TimeWait,
        SocketState::Close => W::Close,
        SocketState::CloseWait => W::CloseWait,
        SocketState::LastAck => W::LastAck,
        SocketState::Listen => W::Listen,
        SocketState::Closing => W::Closing,
        SocketState::NewSynRecv => W::NewSynRecv,
    }
}

fn from_wit_direction(direction: wit::Direction) -> Direction {
    match direction {
        wit::Direction::Listening => Direction::Listening,
        wit::Direction::Incoming => Direction::Incoming,
        wit::Direction::Outgoing => Direction::Outgoing,
    }
}

fn to_wit_direction(direction: Direction) -> wit::Direction {
    match direction {
        Direction::Listening => wit::Direction::Listening,
        Direction::Incoming => wit::Direction::Incoming,
        Direction::Outgoing => wit::Direction::Outgoing,
    }
}

fn to_wit_endpoint(address: std::net::SocketAddr) -> wit::Endpoint {
    wit::Endpoint {
        address: address.ip().to_string(),
        port: address.port(),
    }
}

fn to_wit_connection(connection: &Connection) -> wit::Connection {
    wit::Connection {
        protocol: match connection.protocol {
            Protocol::Tcp => wit::Protocol::Tcp,
            Protocol::Udp => wit::Protocol::Udp,
        },
        state: to_wit_state(connection.state),
        direction: to_wit_direction(connection.direction),
        local: to_wit_endpoint(connection.local),
        remote: to_wit_endpoint(connection.remote),
        rx_queue: connection.rx_queue,
        tx_queue: connection.tx_queue,
        uid: connection.uid,
        inode: connection.inode,
        pids: connection.pids.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_directions_round_trip() {
        use SocketState::*;
        for state in [
            Established,
            SynSent,
            SynRecv,
            FinWait1,
            FinWait2,
            TimeWait,
            Close,
            CloseWait,
            LastAck,
            Listen,
            Closing,
            NewSynRecv,
        ] {
            assert_eq!(from_wit_state(to_wit_state(state)), state);
        }
        for direction in [
            Direction::Listening,
            Direction::Incoming,
            Direction::Outgoing,
        ] {
            assert_eq!(from_wit_direction(to_wit_direction(direction)), direction);
        }
    }
}
