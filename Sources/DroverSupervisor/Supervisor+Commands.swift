import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Logging

#if canImport(Glibc)
  import Glibc
#endif

/// A request whose reply waits for the turn's commit (an enqueue).
struct PendingRequest {
  let request: EnqueueRequest
  let reply: (ControlReply) -> Void
  /// The `enqueueBatch` this job belongs to (all or nothing), if any.
  var group: Int? = nil
}

/// Gathers the per-job replies of one `enqueueBatch` into its one reply (loop thread only).
final class BatchReply {
  /// What the valid jobs of a refused batch are told.
  static let followed = "not enqueued: another job of its batch was refused"
  private var ids: [JobID]
  private var existed: [Bool]
  private var failure: (index: Int, message: String)?
  private var left: Int
  private let reply: (ControlReply) -> Void

  init(count: Int, reply: @escaping (ControlReply) -> Void) {
    ids = Array(repeating: 0, count: count)
    existed = Array(repeating: false, count: count)
    left = count
    self.reply = reply
  }

  func take(_ index: Int, _ answer: ControlReply) {
    switch answer {
    case .enqueued(let id, let e, _):
      ids[index] = id
      existed[index] = e
    case .failure(let m):
      // The first job refused for its own sake says why; the others only followed it.
      let rank = (m == BatchReply.followed ? 1 : 0, index)
      if let f = failure {
        if rank < (f.message == BatchReply.followed ? 1 : 0, f.index) { failure = (index, m) }
      } else {
        failure = (index, m)
      }
    default:
      if failure == nil { failure = (index, "unexpected reply") }
    }
    left -= 1
    guard left == 0 else { return }
    if let failure {
      let which = ids.count == 1 ? "" : "job \(failure.index + 1) of \(ids.count): "
      reply(.failure(which + failure.message))
    } else {
      reply(.enqueuedBatch(ids: ids, existed: existed))
    }
  }
}

/// The one command API: every transport (control socket, mailbox from other threads) hands a
/// typed `ControlRequest` to `perform`, on the loop, and gets a typed `ControlReply` back.
extension Supervisor {
  /// Performs `request`; `reply` is called on the loop thread once the answer is known: at
  /// once for most requests, after the turn's commit for `enqueue`, after the store reader
  /// answered for `jobs` and `job`.
  func perform(_ request: ControlRequest, reply: @escaping (ControlReply) -> Void) {
    switch request {
    case .status:
      reply(.status(snapshot()))
    case .wake:
      noteStoreChanged()
      reply(.done)
    case .enqueue(let r):
      pendingEnqueues.append(PendingRequest(request: r, reply: reply))
    case .enqueueBatch(let rs):
      guard !rs.isEmpty else { return reply(.enqueuedBatch(ids: [], existed: [])) }
      // Every job of the batch joins this turn's one commit: all durable, or none.
      nextBatchGroup += 1
      let group = nextBatchGroup
      let collector = BatchReply(count: rs.count, reply: reply)
      for (i, r) in rs.enumerated() {
        pendingEnqueues.append(
          PendingRequest(request: r, reply: { collector.take(i, $0) }, group: group))
      }
    case .scale(let name, let target):
      reply(scale(name, target))
    case .drain(let name):
      reply(drain(name).map { .pools($0) } ?? .failure(unknownPool(name!)))
    case .resume(let name):
      reply(resume(name).map { .pools($0) } ?? .failure(unknownPool(name!)))
    case .reload:
      switch reload(trigger: "control request") {
      case .success: reply(.done)
      case .failure(let e): reply(.failure("reload rejected, old config kept: \(e)"))
      }
    case .jobs, .job:
      nextReadToken += 1
      pendingReads[nextReadToken] = reply
      reader.submit(request, token: nextReadToken)
    case .upgrade:
      requestUpgrade(trigger: "control request", reply: reply)
    case .events:
      reply(.failure("\"events\" needs a streaming transport (the control socket)"))
    }
  }

  /// Handles what other threads posted.
  func drainMailbox() {
    for item in mailbox.take() {
      switch item {
      case .request(let request, let reply):
        perform(request, reply: reply)
      case .readDone(let token, let answer):
        pendingReads.removeValue(forKey: token)?(answer)
      }
    }
  }

  /// Someone else wrote to the store (a CLI, a script, a peer): anything may be ready now.
  func noteStoreChanged() {
    for p in pools { p.maybeHasWork = true }
    promoteDue = true
    checkCancels = true
    refreshNextDue()
  }

  func scale(_ name: String, _ target: ScaleTarget) -> ControlReply {
    guard let p = pool(named: name) else { return .failure(unknownPool(name)) }
    switch target {
    case .auto:
      p.auto = true
      log(.notice, "pool returned to autoscaling", ["pool": "\(name)"])
    case .count(let n):
      guard n >= p.config.min && n <= p.config.max else {
        return .failure(
          "pool \(name): workers must be between min \(p.config.min) and max \(p.config.max), got \(n)"
        )
      }
      p.auto = false
      p.target = n
      log(.notice, "pool pinned at \(n) workers", ["pool": "\(name)"])
    }
    return .scaled(pool: name, target: p.target, auto: p.auto)
  }

  func unknownPool(_ name: String) -> String {
    "no pool named \"\(name)\" (pools: " + pools.map(\.name).joined(separator: ", ") + ")"
  }

  /// The state `ctl status` reports. Job counts come from the store's counters (O(types)).
  func snapshot() -> StatusSnapshot {
    let stats = (try? store.stats()) ?? [:]
    let now = clock.monotonic()
    let problem = storeProblem
    probe.set(storeProblem: problem)
    return StatusSnapshot(
      pid: getpid(), state: state.rawValue,
      pools: pools.map { p in
        StatusSnapshot.Pool(
          name: p.name, target: p.target, min: p.config.min, max: p.config.max, auto: p.auto,
          paused: p.paused, crashLooping: p.crashLooping, types: p.config.types,
          workers: p.workers.map { w in
            let current = w.inFlight.first { $0.startedAt != nil }
            return StatusSnapshot.Worker(
              pid: w.pid, busy: w.busy, jobsDone: w.jobsDone, ready: w.phase == .ready,
              retiring: w.phase == .retiring || w.kill != nil, currentJob: current?.id,
              runningFor: current?.startedAt.map { now - $0 },
              claimed: w.inFlight.filter { $0.startedAt == nil }.map(\.id),
              rss: w.usage?.rss, cpu: w.usage?.cpu)
          })
      },
      jobs: stats,
      loop: StatusSnapshot.Loop(turnMax: turnMax, lastCommit: lastCommit, turns: turns),
      storeProblem: problem)
  }

  /// Why the store cannot be written now, nil when it can: lost for good, the last group
  /// commit failed, or the last lease renewal could not reach it. The store's errors name it
  /// (its path, or its URL without the password).
  var storeProblem: String? {
    storageLost.map { "store lost: \($0)" }
      ?? commitError.map { "last group commit failed: \($0)" }
      ?? storeUnreachable.map { "lease renewal failed: \($0)" }
  }

  /// One line for systemd's STATUS= and the logs.
  func statusLine() -> String {
    let workers = pools.reduce(0) { $0 + $1.workers.count }
    let busy = pools.reduce(0) { $0 + $1.workers.filter(\.busy).count }
    let looping = pools.filter(\.crashLooping).map(\.name)
    var s =
      "\(state.rawValue): \(pools.count) pools, \(workers) workers (\(busy) busy), \(completedTotal) jobs completed"
    if !looping.isEmpty { s += "; crash-looping: " + looping.joined(separator: ", ") }
    return s
  }
}
