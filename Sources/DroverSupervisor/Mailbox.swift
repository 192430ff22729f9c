import DroverCore
import DroverSystem
public import DroverWire

/// The loop's inbox for other threads: a locked queue plus an eventfd the loop's epoll watches.
///
/// Any thread may `post`; the loop drains the queue when the eventfd fires and handles each
/// item as an ordinary event. Posting never blocks on the loop (a lock held for an append) and
/// never runs loop code on the caller's thread.
public final class Mailbox: Sendable {
  /// What other threads hand the loop.
  public enum Item: Sendable {
    /// A command from another transport (HTTP): performed on the loop, `reply` called on the
    /// loop thread once the answer is known (an enqueue's after its commit).
    case request(ControlRequest, reply: @Sendable (ControlReply) -> Void)
    /// A read the store reader finished: `token` names the waiting request.
    case readDone(token: Int, ControlReply)
  }

  let wake: EventFD
  private let queue = Monitor()
  // Guarded by `queue`: see `post` and `take`.
  nonisolated(unsafe) private var items: [Item] = []

  init() throws(SystemError) {
    wake = try EventFD()
  }

  deinit { wake.close() }

  /// Queues `item` and wakes the loop.
  public func post(_ item: Item) {
    queue.locked { items.append(item) }
    try? wake.signal()
  }

  /// Everything queued so far, oldest first (loop thread).
  func take() -> [Item] {
    _ = try? wake.drain()
    return queue.locked {
      let all = items
      items.removeAll(keepingCapacity: true)
      return all
    }
  }
}
