import DroverCore
import DroverStore
import DroverSystem

#if canImport(Glibc)
  import Glibc
#endif

/// What an in-place upgrade hands to the next program image of the same process, in a memfd
/// named by `DROVER_UPGRADE_FD`: the descriptors it keeps (listener, store lock, control
/// connections, workers' sockets and pidfds) and the loop state that goes with them. Monotonic
/// instants travel as raw CLOCK_MONOTONIC nanoseconds, valid across exec.
///
/// `format` is checked by `drover upgrade-probe` before the exec: a binary that does not know
/// this format is never started on it.
struct UpgradeState {
  static let format: Int64 = 1
  static let fdVariable = "DROVER_UPGRADE_FD"
  /// Set by a new image that could not take the state over and went back to the old one.
  static let failedVariable = "DROVER_UPGRADE_FAILED"

  struct InFlight {
    var id: JobID
    var attempt: Int
    var type: String
    var assignedAt: Int64
    var startedAt: Int64?
  }

  struct Worker {
    var pid: Int32
    var fd: Int32
    var pidfd: Int32
    var phase: String
    var jobsDone: Int
    var recycleAfter: Int
    var concurrency: Int
    var spawnedAt: Int64
    var averageRun: Int64?
    var inFlight: [InFlight]
  }

  struct Pool {
    var name: String
    var target: Int
    var auto: Bool
    var paused: Bool
    var workers: [Worker]
  }

  struct Connection {
    var fd: Int32
    var peerUID: UInt32
    /// Bytes read but not yet handled (whole lines and a partial one).
    var input: [UInt8]
    /// The `upgrade` request's connection: its reply comes from the new image.
    var awaitsReply: Bool
  }

  var fromVersion: String
  /// The old image's command line: a rollback runs it again, whatever the new one was given.
  var arguments: [String]
  var startedAt: Int64
  var memfd: Int32 = -1
  /// A descriptor of the old executable, to go back to if the new image cannot take over.
  var rollbackFD: Int32
  var owner: OwnerID
  var lockFD: Int32
  var listenerFD: Int32
  var listenerActivated: Bool
  var controlGID: UInt32
  var completedTotal: Int
  var deadGroups: [Int32]
  var connections: [Connection]
  var pools: [Pool]

  /// Every descriptor that must survive the exec.
  var descriptors: [Int32] {
    var fds = [lockFD, listenerFD, rollbackFD] + connections.map(\.fd)
    for p in pools { for w in p.workers { fds += [w.fd, w.pidfd] } }
    return fds
  }

  var json: JSONValue {
    func f(_ k: String, _ v: JSONValue) -> JSONField { JSONField(k, v) }
    func i<T: BinaryInteger>(_ v: T) -> JSONValue { .int(Int64(v)) }
    return .object([
      f("format", .int(Self.format)), f("from", .string(fromVersion)),
      f("arguments", .array(arguments.map { .string($0) })),
      f("started_at", i(startedAt)),
      f("rollback_fd", i(rollbackFD)), f("owner", i(owner)), f("lock_fd", i(lockFD)),
      f("listener_fd", i(listenerFD)), f("listener_activated", .bool(listenerActivated)),
      f("control_gid", i(controlGID)), f("completed_total", i(completedTotal)),
      f("dead_groups", .array(deadGroups.map { i($0) })),
      f(
        "connections",
        .array(
          connections.map { c in
            .object([
              f("fd", i(c.fd)), f("peer_uid", i(c.peerUID)),
              f("input", .string(Self.hex(c.input))), f("awaits_reply", .bool(c.awaitsReply)),
            ])
          })),
      f(
        "pools",
        .array(
          pools.map { p in
            .object([
              f("name", .string(p.name)), f("target", i(p.target)), f("auto", .bool(p.auto)),
              f("paused", .bool(p.paused)),
              f(
                "workers",
                .array(
                  p.workers.map { w in
                    .object([
                      f("pid", i(w.pid)), f("fd", i(w.fd)), f("pidfd", i(w.pidfd)),
                      f("phase", .string(w.phase)), f("jobs_done", i(w.jobsDone)),
                      f("recycle_after", i(w.recycleAfter)), f("concurrency", i(w.concurrency)),
                      f("spawned_at", i(w.spawnedAt)),
                      f("average_run", w.averageRun.map { i($0) } ?? .null),
                      f(
                        "in_flight",
                        .array(
                          w.inFlight.map { j in
                            .object([
                              f("id", i(j.id)), f("attempt", i(j.attempt)),
                              f("type", .string(j.type)),
                              f("assigned_at", i(j.assignedAt)),
                              f("started_at", j.startedAt.map { i($0) } ?? .null),
                            ])
                          })),
                    ])
                  })),
            ])
          })),
    ])
  }

  /// A state read back; throws naming the first thing missing or malformed.
  init(json v: JSONValue) throws(ConfigError) {
    func req(_ v: JSONValue, _ k: String) throws(ConfigError) -> JSONValue {
      guard let x = v[k], x != .null else { throw ConfigError(message: "upgrade state: no \(k)") }
      return x
    }
    func int(_ v: JSONValue, _ k: String) throws(ConfigError) -> Int64 {
      guard let n = try req(v, k).intValue else {
        throw ConfigError(message: "upgrade state: \(k) is not a number")
      }
      return n
    }
    func str(_ v: JSONValue, _ k: String) throws(ConfigError) -> String {
      guard let s = try req(v, k).stringValue else {
        throw ConfigError(message: "upgrade state: \(k) is not text")
      }
      return s
    }
    func bool(_ v: JSONValue, _ k: String) throws(ConfigError) -> Bool {
      guard let b = try req(v, k).boolValue else {
        throw ConfigError(message: "upgrade state: \(k) is not true or false")
      }
      return b
    }
    func arr(_ v: JSONValue, _ k: String) throws(ConfigError) -> [JSONValue] {
      guard let a = try req(v, k).arrayValue else {
        throw ConfigError(message: "upgrade state: \(k) is not a list")
      }
      return a
    }
    guard try int(v, "format") == Self.format else {
      throw ConfigError(message: "upgrade state: format \(v["format"]?.render() ?? "?") unknown")
    }
    fromVersion = try str(v, "from")
    arguments = try arr(v, "arguments").compactMap(\.stringValue)
    startedAt = try int(v, "started_at")
    rollbackFD = Int32(try int(v, "rollback_fd"))
    owner = try int(v, "owner")
    lockFD = Int32(try int(v, "lock_fd"))
    listenerFD = Int32(try int(v, "listener_fd"))
    listenerActivated = try bool(v, "listener_activated")
    controlGID = UInt32(try int(v, "control_gid"))
    completedTotal = Int(try int(v, "completed_total"))
    deadGroups = try arr(v, "dead_groups").compactMap { $0.intValue.map { Int32($0) } }
    var conns: [Connection] = []
    for c in try arr(v, "connections") {
      conns.append(
        Connection(
          fd: Int32(try int(c, "fd")), peerUID: UInt32(try int(c, "peer_uid")),
          input: Self.unhex(try str(c, "input")), awaitsReply: try bool(c, "awaits_reply")))
    }
    connections = conns
    var ps: [Pool] = []
    for p in try arr(v, "pools") {
      var ws: [Worker] = []
      for w in try arr(p, "workers") {
        var jobs: [InFlight] = []
        for j in try arr(w, "in_flight") {
          jobs.append(
            InFlight(
              id: try int(j, "id"), attempt: Int(try int(j, "attempt")), type: try str(j, "type"),
              assignedAt: try int(j, "assigned_at"), startedAt: j["started_at"]?.intValue))
        }
        ws.append(
          Worker(
            pid: Int32(try int(w, "pid")), fd: Int32(try int(w, "fd")),
            pidfd: Int32(try int(w, "pidfd")), phase: try str(w, "phase"),
            jobsDone: Int(try int(w, "jobs_done")), recycleAfter: Int(try int(w, "recycle_after")),
            concurrency: Int(try int(w, "concurrency")), spawnedAt: try int(w, "spawned_at"),
            averageRun: w["average_run"]?.intValue, inFlight: jobs))
      }
      ps.append(
        Pool(
          name: try str(p, "name"), target: Int(try int(p, "target")), auto: try bool(p, "auto"),
          paused: try bool(p, "paused"), workers: ws))
    }
    pools = ps
  }

  init(
    fromVersion: String, arguments: [String], startedAt: Int64, rollbackFD: Int32, owner: OwnerID,
    lockFD: Int32,
    listenerFD: Int32, listenerActivated: Bool, controlGID: UInt32, completedTotal: Int,
    deadGroups: [Int32], connections: [Connection], pools: [Pool]
  ) {
    self.fromVersion = fromVersion
    self.arguments = arguments
    self.startedAt = startedAt
    self.rollbackFD = rollbackFD
    self.owner = owner
    self.lockFD = lockFD
    self.listenerFD = listenerFD
    self.listenerActivated = listenerActivated
    self.controlGID = controlGID
    self.completedTotal = completedTotal
    self.deadGroups = deadGroups
    self.connections = connections
    self.pools = pools
  }

  /// The state this process was started with (`DROVER_UPGRADE_FD`), removed from the
  /// environment so nothing started later sees it; nil for an ordinary start.
  static func inherited() throws(ConfigError) -> UpgradeState? {
    guard let text = getenv(fdVariable).map({ String(cString: $0) }) else { return nil }
    unsetenv(fdVariable)
    guard let fd = Int32(text) else {
      throw ConfigError(message: "\(fdVariable)=\(text) is not a descriptor")
    }
    lastFD = fd
    let bytes: [UInt8]
    do { bytes = try ExecInPlace.readAll(fd) } catch {
      throw ConfigError(message: "upgrade state unreadable: \(error)")
    }
    let value: JSONValue
    do { value = try JSONValue.parse(String(decoding: bytes, as: UTF8.self)) } catch {
      throw ConfigError(message: "upgrade state is not JSON: \(error)")
    }
    var state = try UpgradeState(json: value)
    state.memfd = fd
    return state
  }

  /// The state descriptor this process was started with, kept for a rollback.
  /// `nonisolated(unsafe)`: written once in `inherited()`, on the main thread, before the
  /// supervisor exists; read only by `Supervisor.rollBack` on that same thread.
  nonisolated(unsafe) static var lastFD: Int32?

  /// The old image's command line from the state on `fd`, if it can be read at all.
  static func arguments(inStateOn fd: Int32) -> [String]? {
    guard let bytes = try? ExecInPlace.readAll(fd),
      let value = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)),
      let list = value["arguments"]?.arrayValue
    else { return nil }
    let args = list.compactMap(\.stringValue)
    return args.isEmpty ? nil : args
  }

  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  static func unhex(_ text: String) -> [UInt8] {
    func value(_ c: UInt8) -> UInt8 { c >= 97 ? c - 87 : c - 48 }
    let u = Array(text.utf8)
    var out: [UInt8] = []
    var i = 0
    while i + 1 < u.count {
      out.append(value(u[i]) << 4 | value(u[i + 1]))
      i += 2
    }
    return out
  }
}
