import CLibPQ
import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// A connection being opened without blocking: libpq's handle, what it waits for next, and
/// when the attempt started (libpq's `connect_timeout` does not apply in this mode).
struct PGOpening {
  let conn: OpaquePointer
  var status: PostgresPollingStatusType
  let startedAt: MonotonicInstant
}

extension PGConnection {
  /// How long a reconnection by `reconnectStep` may take in all (as `connect_timeout`).
  static let reconnectTimeout: Duration = .seconds(5)

  /// Advances a reconnection (starting one when none is under way), waiting on its socket for
  /// at most `budget` in this call. The supervisor's loop reconnects through this: on a cut
  /// link a blocking connect would stall it for the whole connect timeout, again at every
  /// backoff step.
  ///
  /// - Returns: true once connected (as `connect()` leaves it), false while the attempt goes
  ///   on (the next call continues it).
  /// - Throws: `.unavailable` with libpq's message when the attempt failed or took longer than
  ///   `reconnectTimeout`; the next call starts a new one.
  package func reconnectStep(budget: Duration = .milliseconds(50)) throws(StoreError) -> Bool {
    if isConnected { return true }
    let now = Self.monotonicNow()
    var o: PGOpening
    if let pending = opening {
      o = pending
      opening = nil
    } else {
      disconnect()
      guard let conn = PQconnectStart(conninfo) else {
        throw .unavailable("cannot connect to \(label): out of memory")
      }
      // As if PQconnectPoll had answered "writing" (libpq's documented start).
      o = PGOpening(conn: conn, status: PGRES_POLLING_WRITING, startedAt: now)
      if PQstatus(conn) == CONNECTION_BAD { o.status = PGRES_POLLING_FAILED }
    }
    let deadline = now + budget
    while true {
      if o.status == PGRES_POLLING_OK {
        adopt(o.conn)
        return true
      }
      if o.status == PGRES_POLLING_FAILED {
        let why = Self.message(PQerrorMessage(o.conn))
        PQfinish(o.conn)
        throw .unavailable("cannot connect to \(label): \(why)")
      }
      let t = Self.monotonicNow()
      if t - o.startedAt > Self.reconnectTimeout {
        PQfinish(o.conn)
        throw .unavailable("cannot connect to \(label): no answer within 5 s")
      }
      let ready = Self.wait(
        PQsocket(o.conn), writing: o.status == PGRES_POLLING_WRITING, timeout: deadline - t)
      guard ready else {
        opening = o
        return false
      }
      o.status = PQconnectPoll(o.conn)
    }
  }

  /// Waits until `fd` is readable (or writable) for at most `timeout`; a negative `fd` (no
  /// socket yet) counts as ready, so libpq is asked again.
  static func wait(_ fd: Int32, writing: Bool, timeout: Duration) -> Bool {
    guard fd >= 0 else { return true }
    let (s, atto) = timeout.components
    let ms = max(0, s * 1000 + (atto + 999_999_999_999_999) / 1_000_000_000_000_000)
    var p = pollfd(fd: fd, events: Int16(writing ? POLLOUT : POLLIN), revents: 0)
    return poll(&p, 1, Int32(min(ms, 60_000))) > 0
  }
}
