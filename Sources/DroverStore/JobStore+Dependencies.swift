public import DroverCore

extension EnqueueParams {
  /// The checks of a whole call's dependencies, after each job's `validate`: every `.batch`
  /// position names another job of the call, ids are positive, and the jobs of the call do
  /// not wait on each other in a cycle.
  public static func validateParents(_ jobs: [EnqueueParams]) throws(StoreError) {
    guard jobs.contains(where: { !$0.parents.isEmpty }) else { return }
    var graph: [[Int]] = []
    graph.reserveCapacity(jobs.count)
    for (i, job) in jobs.enumerated() {
      let which = jobs.count == 1 ? "job" : "job \(i + 1) of \(jobs.count)"
      var local: [Int] = []
      for parent in job.parents {
        switch parent {
        case .job(let id):
          guard id > 0 else {
            throw .invalidInput("\(which) (\(job.type)): parent id \(id) is not a job id")
          }
        case .batch(let k):
          guard k >= 0, k < jobs.count else {
            throw .invalidInput(
              "\(which) (\(job.type)): parent position \(k + 1) is not in this call of "
                + "\(jobs.count)")
          }
          guard k != i else { throw .invalidInput("\(which) (\(job.type)): it waits on itself") }
          local.append(k)
        }
      }
      graph.append(local)
    }
    if let cycle = DependencyHold.cycle(graph) {
      throw .invalidInput(
        "a dependency cycle among the jobs of this call: "
          + cycle.map { "job \($0 + 1)" }.joined(separator: " → "))
    }
  }
}

/// A waiting job that settling its parents changed.
public struct SettledChild: Sendable, Hashable {
  public var id: JobID
  public var type: String
  public init(id: JobID, type: String) {
    self.id = id
    self.type = type
  }
}

/// What settling waiting jobs did inside one transaction.
struct ChildSettlement {
  /// Types of the jobs released to `queued`, one per job.
  var queued: [String] = []
  /// A job was released to `scheduled` (its `run_at` still ahead).
  var scheduled = false
  /// Jobs cancelled because of a dead or cancelled parent.
  var cancelled: [SettledChild] = []

  mutating func add(_ o: ChildSettlement) {
    queued += o.queued
    scheduled = scheduled || o.scheduled
    cancelled += o.cancelled
  }
}

extension BatchResult {
  mutating func note(_ s: ChildSettlement) {
    released += s.queued
    releasedScheduled = releasedScheduled || s.scheduled
    cancelledWaiting += s.cancelled
  }
}
