import DroverCore
import DroverStore
import DroverSystem
import DroverWire

#if canImport(Glibc)
  import Glibc
#endif

/// One benchmark figure.
struct BenchFigure {
  var scenario: String
  var name: String
  var value: Double
  var unit: String
  /// The issue's target, as text (e.g. "≥ 20000"), when there is one.
  var target: String?
}

/// A scratch folder for one scenario, removed afterwards.
final class BenchDirectory {
  let path: String

  init() throws(CLIError) {
    var template = Array("/tmp/drover-bench-XXXXXX".utf8CString)
    guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
      throw CLIError("cannot create a temp folder: \(String(cString: strerror(errno)))")
    }
    path = String(cString: p)
  }

  func remove() {
    // Only our own mkdtemp folder, which holds plain files.
    if let d = opendir(path) {
      while let e = readdir(d) {
        let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
          String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { unlink(path + "/" + name) }
      }
      closedir(d)
    }
    rmdir(path)
  }
}

/// A supervisor started for a scenario, as a user would: `drover serve` on a temp config.
final class BenchSupervisor {
  let dir: String
  let configPath: String
  let config: DroverConfig
  let pid: Int32
  var client: ControlClient

  /// Writes `pools` (TOML tables) into a config in `dir`, starts serve, waits until running.
  /// `store` adds lines to `[store]` (a PostgreSQL `url`).
  init(dir: String, pools: String, synchronous: String = "normal", store: String = "") throws {
    self.dir = dir
    configPath = dir + "/drover.toml"
    let text = """
      [store]
      path = "drover.db"
      synchronous = "\(synchronous)"
      \(store)
      [control]
      socket = "control.sock"
      [supervisor]
      drain_timeout = "30s"
      \(pools)
      """
    let fd = open(configPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CLIError("cannot write \(configPath)") }
    try FD.writeAll(fd, text)
    FD.close(fd)
    do { config = try ConfigLoader.load(path: configPath) } catch { throw CLIError("\(error)") }
    let logFD = open(dir + "/serve.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
    pid = try ProcessSpawner.spawn(
      executable: SelfExecutable.path(),
      arguments: ["serve", "--config", configPath, "--log-level", "warning"],
      standardError: .fd(logFD), processGroup: .newGroup)
    FD.close(logFD)
    let deadline = Monotonic.nanoseconds() + 20_000_000_000
    var c: ControlClient? = nil
    while true {
      if let c1 = try? ControlClient(socketPath: config.control.socket, timeout: .seconds(1)) {
        c = c1
        var probe = c1
        if let s = try? probe.call(.status), s["state"]?.stringValue == "running" { break }
        c1.close()
        c = nil
      }
      if let st = try? ProcessReaper.reap(pid) {
        throw CLIError("the bench supervisor exited at start-up (\(st)); see \(dir)/serve.log")
      }
      guard Monotonic.nanoseconds() < deadline else {
        try? Signals.send(signal: SIGKILL, to: pid)
        throw CLIError("the bench supervisor did not become ready; see \(dir)/serve.log")
      }
      usleep(2_000)
    }
    client = c!
  }

  /// Opens the store file (a second connection, as a CLI would).
  func store() throws -> SQLiteStore {
    try SQLiteStore(path: config.store.path)
  }

  /// Opens the config's store, whichever driver it names.
  func anyStore() throws -> any JobStore { try StoreFactory.open(config.store) }

  func status() throws -> JSONValue { try client.call(.status) }

  /// Worker pids of `pool` that are ready.
  func workers(_ pool: String) throws -> [Int32] {
    let s = try status()
    let p = s["pools"]?.arrayValue?.first { $0["name"]?.stringValue == pool }
    return (p?["workers"]?.arrayValue ?? []).compactMap {
      $0["ready"]?.boolValue == true && $0["retiring"]?.boolValue != true
        ? $0["pid"]?.intValue.map { Int32($0) } : nil
    }
  }

  /// SIGTERM, then wait for exit (SIGKILL after 30 s).
  func stop() {
    client.close()
    try? Signals.send(signal: SIGTERM, to: pid)
    let deadline = Monotonic.nanoseconds() + 30_000_000_000
    while (try? ProcessReaper.reap(pid)) ?? nil == nil {
      if Monotonic.nanoseconds() > deadline {
        try? Signals.send(signal: SIGKILL, toGroup: pid)
        _ = try? ProcessReaper.waitForExit(pid)
        return
      }
      usleep(5_000)
    }
  }
}

enum BenchMath {
  /// A duration in microseconds, fractional.
  static func micros(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
  }

  /// The value at quantile `q` (0…1) of sorted samples, nearest-rank.
  static func quantile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(sorted.count - 1, max(0, rank))]
  }

  static func seconds(_ fromNS: Int64, _ toNS: Int64) -> Double { Double(toNS - fromNS) / 1e9 }
}

/// Writes an NDJSON batch of `n` jobs of `type` to `path`.
func writeBatchFile(_ path: String, type: String, count n: Int, payload: String = "{}") throws {
  try writeBatchFile(path, types: [type], count: n, payload: payload)
}

/// An NDJSON batch of `n` jobs dealt to `types` in turn.
func writeBatchFile(_ path: String, types: [String], count n: Int, payload: String = "{}") throws {
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
  guard fd >= 0 else { throw CLIError("cannot write \(path)") }
  defer { FD.close(fd) }
  let lines = types.map { Array("{\"type\":\"\($0)\",\"payload\":\(payload)}\n".utf8) }
  var chunk: [UInt8] = []
  chunk.reserveCapacity(lines[0].count * 1000)
  var written = 0
  while written < n {
    chunk.removeAll(keepingCapacity: true)
    for k in written..<min(n, written + 1000) { chunk.append(contentsOf: lines[k % lines.count]) }
    written = min(n, written + 1000)
    try FD.writeAll(fd, chunk)
  }
}

/// Runs `drover ARGS` to completion with stdout/stderr discarded; throws on a non-zero exit.
func runDrover(_ args: [String]) throws {
  let pid = try ProcessSpawner.spawn(
    executable: SelfExecutable.path(), arguments: args, standardOutput: .null,
    standardError: .null)
  let st = try ProcessReaper.waitForExit(pid)
  guard st.isSuccess else { throw CLIError("drover \(args.joined(separator: " ")): \(st)") }
}
