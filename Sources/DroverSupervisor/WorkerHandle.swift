import DroverCore
import DroverSystem
import DroverWire

/// One child worker process as the supervisor sees it.
final class WorkerHandle: ListedOnceElement {
  enum Phase: Equatable {
    /// Spawned, no hello yet.
    case booting
    /// Said hello; takes jobs unless retiring.
    case ready
    /// Sent `shutdown`: finishing its jobs, then exiting. Takes no jobs.
    case retiring
  }

  /// Why the supervisor is killing this worker, for the text on its jobs.
  enum KillReason: Equatable {
    case hung
    case protocolViolation(String)
    case bootTimeout
    case jobTimeout
    case jobCancel
    case drainTimeout
    case stopping
    case retireTimeout
  }

  /// Why a job in this worker is being stopped.
  enum StopReason: Equatable {
    case timeout(Duration)
    case cancel
  }

  /// A job on this worker: assigned, perhaps started.
  struct InFlight {
    var id: JobID
    var attempt: Int
    var type: String
    /// Its snoozes before this run, to end it past the pool's `max_snoozes`.
    var snoozes: Int = 0
    /// When it was handed to the worker.
    var assignedAt: MonotonicInstant
    /// When it started on the worker; nil while prefetched.
    var startedAt: MonotonicInstant?
    var stop: StopReason?
    /// After this an unanswered stop escalates to killing the worker.
    var stopDeadline: MonotonicInstant?
    /// The result its handler set (JSON text), reported just before a completed outcome.
    var result: String?
  }

  let pid: Int32
  let fd: Int32
  let pidfd: Int32
  let pool: String
  let spawnedAt: MonotonicInstant
  var phase: Phase = .booting
  var inFlight: [InFlight] = []
  var decoder = FrameDecoder()
  var outBuffer: [UInt8] = []
  /// In the supervisor's `flushList` (`ListedOnceElement`).
  var isListed = false
  var lastHeard: MonotonicInstant
  /// When the worker last became idle (or was spawned).
  var idleSince: MonotonicInstant
  var jobsDone = 0
  var recycleAfter: Int
  var kill: KillReason?
  /// When the next escalation (SIGTERM → SIGKILL) is due.
  var killDeadline: MonotonicInstant?
  var sentSIGKILL = false
  /// Runs the executable of the program image before an in-place upgrade: to be rolled.
  var fromOldBinary = false
  var socketOpen = true
  /// When the worker's CPU time and RSS are read next (`sampleWorkers`).
  var usageCheck = Periodic(every: .seconds(2))
  /// The last reading of its CPU time and RSS from /proc; nil before the first.
  var usage: ProcessSample?
  /// `jobsDone` at the last sample, and the samples skipped since while idle.
  var jobsAtSample = -1
  var idleSamplesSkipped = 0
  /// Recent job run time (EWMA), nil before the first job: sets the prefetch depth.
  var averageRun: Duration?
  /// When prefetched jobs were last asked back (work stealing).
  var lastRelease: MonotonicInstant?
  /// The pool's concurrency when spawned (a reload may change the pool's).
  let concurrency: Int

  init(
    pid: Int32, fd: Int32, pidfd: Int32, pool: String, concurrency: Int, now: MonotonicInstant,
    recycleAfter: Int
  ) {
    self.pid = pid
    self.fd = fd
    self.pidfd = pidfd
    self.pool = pool
    self.concurrency = concurrency
    self.spawnedAt = now
    self.lastHeard = now
    self.idleSince = now
    self.recycleAfter = recycleAfter
  }

  /// Takes new jobs: said hello, not retiring, not being killed.
  var acceptsJobs: Bool { phase == .ready && kill == nil && socketOpen }

  /// Free job slots (running + prefetched up to capacity).
  var freeSlots: Int {
    guard acceptsJobs else { return 0 }
    var free =
      PoolPolicy.capacity(concurrency: concurrency, averageRun: averageRun) - inFlight.count
    // Never hand a worker more than it will run before it is recycled.
    if recycleAfter > 0 { free = min(free, recycleAfter - jobsDone - inFlight.count) }
    return max(0, free)
  }

  /// Has at least one job started.
  var busy: Bool { !inFlight.isEmpty }

  /// Jobs waiting on this worker behind its running ones.
  var prefetched: Int { max(0, inFlight.count - concurrency) }

  /// Workers start jobs in arrival order and keep `concurrency` running: the first
  /// `concurrency` in-flight jobs are the running ones. Marks newly promoted ones started.
  /// Returns the newly started jobs with how long each waited since it was assigned.
  @discardableResult
  func promoteStarted(now: MonotonicInstant) -> [(JobID, Duration)] {
    var started: [(JobID, Duration)] = []
    for i in 0..<min(concurrency, inFlight.count) where inFlight[i].startedAt == nil {
      inFlight[i].startedAt = now
      started.append((inFlight[i].id, now - inFlight[i].assignedAt))
    }
    return started
  }

  func index(of id: JobID) -> Int? { inFlight.firstIndex { $0.id == id } }
}

/// An element of a `ListedOnce` list: `isListed` says whether it is in it now.
protocol ListedOnceElement: AnyObject {
  var isListed: Bool { get set }
}

/// A list that holds each element at most once until it is taken: what a turn must visit,
/// so a turn costs what happened in it, not what the supervisor owns.
final class ListedOnce<Element: ListedOnceElement> {
  private(set) var items: [Element] = []

  var isEmpty: Bool { items.isEmpty }

  func add(_ e: Element) {
    guard !e.isListed else { return }
    e.isListed = true
    items.append(e)
  }

  /// The listed elements in the order they were added, leaving the list empty (one that
  /// still needs a visit is added again).
  func take() -> [Element] {
    let taken = items
    items.removeAll(keepingCapacity: true)
    for e in taken { e.isListed = false }
    return taken
  }
}

/// The pools whose `maybeHasWork` is set, in the order it was set: a commit tries to claim
/// for these, not for every pool, so a turn costs the same with 1,000 idle pools as with one.
typealias WorkList = ListedOnce<PoolState>

/// The workers with frames waiting to be written (`Supervisor.noteOutput`): the end of a turn
/// flushes these, not every worker.
typealias FlushList = ListedOnce<WorkerHandle>

/// One pool: its config, desired state, and workers.
final class PoolState: ListedOnceElement {
  var config: PoolConfig
  /// How many workers the pool should have now.
  var target: Int
  /// Autoscaling (true) or pinned by `scale POOL N` (false).
  var auto = true
  /// Quiet mode from `ctl drain`.
  var paused = false
  var crashLooping = false
  /// Consecutive early deaths (boot failures or crashes soon after spawn): restart backoff.
  var failures = 0
  /// Consecutive deaths before hello: crash-looping past the threshold.
  var bootFailures = 0
  /// No replacement is spawned before this.
  var restartNotBefore: MonotonicInstant?
  /// A claim may find work (set by wake-ups, releases, retries; cleared by a short claim).
  /// Setting it lists the pool in the supervisor's `WorkList`.
  var maybeHasWork = true {
    didSet { if maybeHasWork { workList?.add(self) } }
  }
  /// In `workList` now (`ListedOnceElement`).
  var isListed = false
  private weak var workList: WorkList?
  /// Removed by a reload: retire every worker, then forget the pool.
  var removed = false
  var workers: [WorkerHandle] = []

  init(config: PoolConfig, workList: WorkList) {
    self.config = config
    self.target = config.min
    self.workList = workList
    workList.add(self)
  }

  var name: String { config.name }

  /// Workers that count toward the target (not retiring, not being killed).
  var liveWorkers: [WorkerHandle] { workers.filter { $0.phase != .retiring && $0.kill == nil } }

  /// `liveWorkers.count`, without building the array.
  var liveWorkerCount: Int {
    var n = 0
    for w in workers where w.phase != .retiring && w.kill == nil { n += 1 }
    return n
  }

  var runningJobs: Int {
    workers.reduce(0) { $0 + min($1.concurrency, $1.inFlight.count) }
  }

  /// Which worker each job of a claim goes to, in claim order: every free slot once, each job
  /// to the least loaded worker at that point (ties: the first), so a claim is spread over
  /// the pool's idle workers rather than queued on one. Empty when no worker has a free slot.
  func handOutPlan() -> [WorkerHandle] {
    var load: [(w: WorkerHandle, n: Int, free: Int)] = []
    var total = 0
    for w in workers {
      let free = w.freeSlots
      guard free > 0 else { continue }
      load.append((w, w.inFlight.count, free))
      total += free
    }
    guard total > 0 else { return [] }
    if load.count == 1 { return Array(repeating: load[0].w, count: total) }
    var plan: [WorkerHandle] = []
    plan.reserveCapacity(total)
    for _ in 0..<total {
      var best = -1
      for i in load.indices where load[i].free > 0 && (best < 0 || load[i].n < load[best].n) {
        best = i
      }
      plan.append(load[best].w)
      load[best].n += 1
      load[best].free -= 1
    }
    return plan
  }
}
