import DroverCore
import DroverStore
import DroverSupervisor
import DroverWire
import NIOPosix
import Synchronization

/// The HTTP layer's two doors: the supervisor's mailbox for commands (performed on the loop,
/// answered on the loop thread, never waited on there) and store connections of its own for
/// reads and admin writes (run on NIO's blocking-I/O pool, never on an event loop).
final class SupervisorLink: Sendable {
  let mailbox: Mailbox
  let events: EventBus
  let probe: LoopProbe
  let storeConfig: StoreConfig
  private let readers = Mutex<[LinkConnection]>([])
  private let writer: Mutex<LinkConnection?> = Mutex(nil)

  init(mailbox: Mailbox, events: EventBus, probe: LoopProbe, storeConfig: StoreConfig) {
    self.mailbox = mailbox
    self.events = events
    self.probe = probe
    self.storeConfig = storeConfig
  }

  /// Performs `request` on the loop and waits (suspended, not blocking a thread) for its
  /// reply: an enqueue's comes after its commit, so it is durable when this returns.
  func ask(_ request: ControlRequest) async -> ControlReply {
    await withCheckedContinuation { (c: CheckedContinuation<ControlReply, Never>) in
      mailbox.post(.request(request, reply: { c.resume(returning: $0) }))
    }
  }

  /// Runs `body` on a read-only store connection of this layer's own (a small pool: one
  /// connection is used by one thread at a time), off the event loops.
  func read<T: Sendable>(
    _ body: @escaping @Sendable (any JobStore) throws(StoreError) -> T
  ) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive { [self] () throws -> T in
      let conn =
        try readers.withLock { $0.popLast() } ?? LinkConnection(storeConfig, access: .readOnly)
      defer { readers.withLock { if $0.count < 4 { $0.append(conn) } } }
      do throws(StoreError) { return try body(conn.store) } catch { throw APIError(error) }
    }
  }

  /// Runs `body` on this layer's read-write connection (admin actions: cancel, retry,
  /// requeue), one call at a time, then nudges the loop so it sees the change at once.
  func write<T: Sendable>(
    _ body: @escaping @Sendable (any JobStore) throws(StoreError) -> T
  ) async throws -> T {
    let result = try await NIOThreadPool.singleton.runIfActive { [self] () throws -> T in
      try writer.withLock { w throws -> T in
        if w == nil { w = try LinkConnection(storeConfig, access: .readWrite) }
        do throws(StoreError) { return try body(w!.store) } catch { throw APIError(error) }
      }
    }
    mailbox.post(.request(.wake, reply: { _ in }))
    return result
  }
}

/// A store connection of the link: the read-only ones each used by the one thread that took it
/// out of `SupervisorLink.readers` (the pool hands each connection to one caller), the admin
/// write one only inside `writer.withLock`. Hence `@unchecked Sendable`.
final class LinkConnection: @unchecked Sendable {
  let store: any JobStore
  init(_ config: StoreConfig, access: StoreFactory.Access) throws {
    do throws(StoreError) {
      store = try StoreFactory.open(config, access: access)
    } catch { throw APIError(error) }
  }
}
