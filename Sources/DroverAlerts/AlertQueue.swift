/// A bounded FIFO that drops its oldest item to make room, and counts what it dropped: the
/// alert backlog of one webhook. Pure; the sender guards it with its lock.
public struct AlertQueue<Item> {
  /// The most items kept (at least 1).
  public let capacity: Int
  private var items: [Item] = []
  private var head = 0
  /// Items dropped to make room, since the start.
  public private(set) var dropped = 0

  /// An empty queue keeping at most `capacity` items (at least 1).
  public init(capacity: Int) { self.capacity = max(1, capacity) }

  /// Items waiting.
  public var count: Int { items.count - head }
  /// Whether nothing waits.
  public var isEmpty: Bool { count == 0 }

  /// Appends `item`, dropping the oldest first when full; returns whether one was dropped.
  @discardableResult
  public mutating func push(_ item: Item) -> Bool {
    var drop = false
    if count >= capacity {
      head += 1
      dropped += 1
      drop = true
    }
    items.append(item)
    if head > 1024, head * 2 > items.count {
      items.removeFirst(head)
      head = 0
    }
    return drop
  }

  /// The oldest item, removed.
  public mutating func pop() -> Item? {
    guard head < items.count else { return nil }
    let item = items[head]
    head += 1
    if head == items.count {
      items.removeAll(keepingCapacity: true)
      head = 0
    }
    return item
  }
}
