extension TOMLParser {
  /// A table while the document is being parsed: a reference, so headers and dotted keys can
  /// reach in and add keys. Frozen into a `TOMLTable` at the end.
  final class TableNode {
    /// How the table came to be, which decides what may still add to it.
    enum Origin {
      case root
      /// Named on the way to a deeper header (`a` in `[a.b]`): a later `[a]` may define it.
      case implicit
      /// Defined by its own `[header]`.
      case header
      /// Made by a dotted key (`a.b = 1` makes `a`): only more dotted keys may add to it.
      case dotted
      /// `{ … }`: complete as written.
      case inline
    }

    enum Slot {
      case value(TOMLValue)
      case table(TableNode)
    }

    var origin: Origin
    /// Where the table is defined (its header, or the first dotted key that made it).
    var line: Int
    private(set) var order: [String] = []
    private(set) var slots: [String: (line: Int, slot: Slot)] = [:]

    init(origin: Origin, line: Int) {
      self.origin = origin
      self.line = line
    }

    func add(_ key: String, line: Int, _ slot: Slot) {
      order.append(key)
      slots[key] = (line, slot)
    }

    func freeze() -> TOMLTable {
      TOMLTable(
        entries: order.compactMap { key in
          guard let (line, slot) = slots[key] else { return nil }
          switch slot {
          case .value(let v):
            return TOMLTable.Entry(key: key, line: line, value: v)
          case .table(let t):
            return TOMLTable.Entry(
              key: key, line: t.line, value: TOMLValue(.table(t.freeze()), line: t.line))
          }
        })
    }
  }
}
