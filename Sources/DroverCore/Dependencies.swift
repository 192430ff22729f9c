/// What a dead or cancelled parent does to a waiting child (`on_parent_failure`).
public enum ParentFailurePolicy: Int, Sendable, Hashable, CaseIterable {
  /// The child is cancelled too, recording "parent #N dead" (or "cancelled"); the default.
  case cancel = 0
  /// The failed parent counts as settled: the child runs once no parent is unfinished.
  case run = 1

  /// The name the CLI, JSON and config use.
  public var name: String {
    switch self {
    case .cancel: "cancel"
    case .run: "run"
    }
  }

  /// Parses `cancel` or `run`.
  public init?(name: String) {
    guard let p = Self.allCases.first(where: { $0.name == name }) else { return nil }
    self = p
  }
}

/// A parent of a job being enqueued: an existing job, or another job of the same enqueue call
/// by its position there (how a whole graph goes in in one transaction).
public enum JobParentRef: Sendable, Hashable {
  /// An existing job's id.
  case job(JobID)
  /// The job at this 0-based position of the same enqueue call (earlier or later).
  case batch(Int)
}

/// One end of a dependency edge, as `jobs show` lists it.
public struct JobLink: Sendable, Hashable {
  public var id: JobID
  /// The job's state now; nil when it was pruned (a pruned parent had finished).
  public var state: JobState?
  public init(id: JobID, state: JobState?) {
    self.id = id
    self.state = state
  }
}

/// Why a job is held by its dependencies, as one line (for `jobs show` and `drover why`).
public enum DependencyHold {
  /// "waiting on parents #12, #13 (1 of 3 done)" for a waiting job: the unfinished parents
  /// (and failed ones the job runs after anyway are counted done), or nil when the job is not
  /// waiting or lists no parent.
  public static func text(state: JobState, parents: [JobLink]) -> String? {
    guard state == .waiting, !parents.isEmpty else { return nil }
    let open = parents.filter { !($0.state?.isFinal ?? true) }
    let done = parents.count - open.count
    let noun = open.count == 1 ? "parent" : "parents"
    let ids = open.map { "#\($0.id)" }.joined(separator: ", ")
    return "waiting on \(noun) \(ids) (\(done) of \(parents.count) done)"
  }

  /// The first cycle among `parents` (position `i` lists the positions it waits on), as a
  /// path of positions that starts and ends with the same one, or nil when there is none.
  /// Iterative: a batch may hold a chain of any length.
  public static func cycle(_ parents: [[Int]]) -> [Int]? {
    walk(parents).cycle
  }

  /// Positions in an order where each job comes after every parent of the same call
  /// (`parents` as for `cycle`, which must be nil).
  public static func topologicalOrder(_ parents: [[Int]]) -> [Int] {
    walk(parents).order
  }

  /// Depth-first walk with an explicit stack: post-order, or the first cycle met.
  private static func walk(_ parents: [[Int]]) -> (order: [Int], cycle: [Int]?) {
    // 0 unvisited, 1 on the current path, 2 done.
    var mark = [UInt8](repeating: 0, count: parents.count)
    var order: [Int] = []
    order.reserveCapacity(parents.count)
    var stack: [(node: Int, next: Int)] = []
    for root in parents.indices where mark[root] == 0 {
      mark[root] = 1
      stack.append((root, 0))
      while let top = stack.last {
        let edges = parents[top.node]
        if top.next < edges.count {
          stack[stack.count - 1].next += 1
          let m = edges[top.next]
          guard m >= 0 && m < parents.count else { continue }
          if mark[m] == 1 {
            let path = stack.map(\.node)
            return (order, Array(path[path.firstIndex(of: m)!...]) + [m])
          }
          if mark[m] == 0 {
            mark[m] = 1
            stack.append((m, 0))
          }
        } else {
          mark[top.node] = 2
          order.append(top.node)
          stack.removeLast()
        }
      }
    }
    return (order, nil)
  }
}
