import DroverStore
import Foundation
import Synchronization

/// A throwaway PostgreSQL server for the tests: `initdb` in a temporary directory, started once
/// per test process on 127.0.0.1 (a free port) and a private socket directory, stopped when
/// the process exits. Each test takes a fresh database from it (`database()`).
///
/// The binaries are found through `$DROVER_PG_BIN`, then `pg_config --bindir`, then
/// `/usr/lib/postgresql/*/bin`; `scripts/install-deps.sh` installs Debian's `postgresql`.
/// `initdb` refuses to run as root, so as root the cluster belongs to the `postgres` user.
/// `fsync` is off: the server process is never killed by the tests, and a test database is
/// not worth a disk flush per commit on a shared 2-core machine.
///
/// A cluster left behind by a test process that died (SIGKILL, a crash) is stopped and
/// removed by the next one.
public final class PostgresCluster: Sendable {
  /// The cluster's directory (data, socket, log).
  public let dir: String
  public let port: Int
  /// The network namespace the server runs in (nil: this process's, on 127.0.0.1).
  public let namespace: String?
  let bin: String
  let runAs: String?
  private let counter = Atomic<Int>(0)
  private let createLock = Mutex(())

  /// The process's cluster, started on first use; throws the start-up failure every time.
  public static func shared() throws -> PostgresCluster {
    switch started {
    case .success(let c): return c
    case .failure(let e): throw e
    }
  }

  private static let started: Result<PostgresCluster, ChildProcessError> = {
    do { return .success(try PostgresCluster()) } catch let e as ChildProcessError {
      return .failure(e)
    } catch {
      return .failure(ChildProcessError("cannot start PostgreSQL: \(error)"))
    }
  }()

  /// A URL of the cluster's database `name` (the superuser `postgres`): over TCP on loopback,
  /// or for a cluster in a namespace through its Unix socket (reachable from any network
  /// namespace: it is a file).
  public func url(database name: String) -> String {
    namespace == nil
      ? "postgres://postgres@127.0.0.1:\(port)/\(name)"
      : "postgresql://postgres@/\(name)?host=\(dir)&port=\(port)"
  }

  /// A URL of database `name` over TCP at `host` (an address the server listens on).
  public func url(database name: String, host: String) -> String {
    "postgres://postgres@\(host):\(port)/\(name)"
  }

  /// A cluster of its own inside network namespace `namespace`, listening on every address
  /// there (port 5432: the namespace is private). Stopped by `stop()`, or at exit.
  public static func inNamespace(_ namespace: String) throws -> PostgresCluster {
    try PostgresCluster(namespace: namespace)
  }

  /// A cluster of this test's own on 127.0.0.1 (a free port), for a test that stops and
  /// restarts the server (`pause`, `resume`) without disturbing the tests sharing `shared()`.
  public static func own() throws -> PostgresCluster { try PostgresCluster() }

  /// Stops the server (fast mode: clients are disconnected) and keeps its files: the server
  /// is gone until `resume()`, as when a database host goes down.
  public func pause() throws {
    try Self.run(
      bin + "/pg_ctl", ["-D", dir + "/data", "-m", "fast", "-w", "-t", "60", "stop"], as: runAs,
      namespace: namespace)
  }

  /// Starts the server again on the same port, with everything it had stored.
  public func resume() throws {
    try Self.run(
      bin + "/pg_ctl",
      [
        "-D", dir + "/data", "-l", dir + "/server.log", "-w", "-t", "60", "-o",
        Self.serverOptions(port: port, dir: dir, namespace: namespace), "start",
      ], as: runAs, namespace: namespace)
  }

  static func serverOptions(port: Int, dir: String, namespace: String?) -> String {
    let listen = namespace == nil ? "127.0.0.1" : "'*'"
    return "-c listen_addresses=\(listen) -p \(port) -k \(dir) -c fsync=off "
      + "-c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB"
  }

  /// Stops this cluster now (immediate mode) and removes its files.
  public func stop() {
    Self.stop(bin: bin, dir: dir, runAs: runAs)
    Self.stopCommands.withLock { $0.removeAll { $0.1 == dir } }
  }

  /// Creates a fresh, empty database and returns its URL.
  public func database(prefix: String = "t") throws -> String {
    let n = counter.add(1, ordering: .relaxed).newValue
    let name = "\(prefix)_\(getpid())_\(n)"
    try createLock.withLock { _ in
      let admin = try PGConnection(url: url(database: "postgres"))
      try admin.exec("CREATE DATABASE \"\(name)\"")
    }
    return url(database: name)
  }

  /// Runs SQL on `url` through `psql` (what an application or an operator would do), and
  /// returns its output; throws when psql fails.
  @discardableResult
  public func psql(_ url: String, _ sql: String) throws -> String {
    let out = try ChildProcess.run(
      bin + "/psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-d", url, "-c", sql],
      timeout: .seconds(60))
    guard out.exitCode == 0 else {
      throw ChildProcessError("psql failed (\(out.status)): \(out.stderrText)")
    }
    return out.trimmedStdout
  }

  private init(namespace: String? = nil) throws {
    self.namespace = namespace
    bin = try Self.findBin()
    Self.removeAbandoned()
    runAs = geteuid() == 0 ? "postgres" : nil
    let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 }
    var template = Array("\(tmp ?? "/tmp")/drover-pg.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw ChildProcessError("mkdtemp failed") }
    dir = String(cString: made)
    try "\(getpid())\n".write(toFile: dir + "/owner.pid", atomically: true, encoding: .utf8)
    if let user = runAs, let pw = getpwnam(user) {
      chown(dir, pw.pointee.pw_uid, pw.pointee.pw_gid)
    }
    chmod(dir, 0o755)
    try Self.run(
      bin + "/initdb",
      [
        "-D", dir + "/data", "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync",
        "--locale=C",
      ], as: runAs)
    if namespace != nil {
      // Hosts in other namespaces reach it over their veth links (TestNetwork's 10.213.0.0/16).
      let hba = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/data/pg_hba.conf"))
      hba.seekToEndOfFile()
      hba.write(Data("host all all 10.213.0.0/16 trust\n".utf8))
      try hba.close()
    }
    var lastError = ""
    for _ in 0..<5 {
      let port = namespace == nil ? Self.freePort() : 5432
      let options = Self.serverOptions(port: port, dir: dir, namespace: namespace)
      do {
        try Self.run(
          bin + "/pg_ctl",
          [
            "-D", dir + "/data", "-l", dir + "/server.log", "-w", "-t", "60", "-o", options,
            "start",
          ], as: runAs, namespace: namespace)
        self.port = port
        Self.registerStop(bin: bin, dir: dir, runAs: runAs)
        return
      } catch {
        lastError = "\(error)"
      }
    }
    throw ChildProcessError("cannot start PostgreSQL: \(lastError)")
  }

  private static func findBin() throws -> String {
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["DROVER_PG_BIN"] { candidates.append(env) }
    if let out = try? ChildProcess.run("/usr/bin/env", ["pg_config", "--bindir"]),
      out.exitCode == 0
    {
      candidates.append(out.trimmedStdout)
    }
    let versions =
      ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
      .compactMap(Int.init).sorted(by: >)
    candidates += versions.map { "/usr/lib/postgresql/\($0)/bin" }
    guard let found = candidates.first(where: { access($0 + "/initdb", X_OK) == 0 }) else {
      throw ChildProcessError(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found: run "
          + "scripts/install-deps.sh or set DROVER_PG_BIN")
    }
    return found
  }

  private static func run(
    _ exe: String, _ args: [String], as user: String?, namespace: String? = nil
  ) throws {
    var argv = [exe] + args
    if let user { argv = ["/usr/sbin/runuser", "-u", user, "--"] + argv }
    if let namespace { argv = ["/usr/sbin/ip", "netns", "exec", namespace] + argv }
    let out = try ChildProcess.run(argv[0], Array(argv.dropFirst()), timeout: .seconds(120))
    guard out.exitCode == 0 else {
      throw ChildProcessError(
        "\(exe) failed (\(out.status)): \(out.stderrText) \(out.stdoutText)")
    }
  }

  /// A port nobody listens on right now (the kernel's pick for a bound, closed socket).
  private static func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, len)
        return getsockname(fd, $0, &len)
      }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
  }

  /// Stops the cluster when the test process exits (immediate mode: nothing to keep).
  private static func registerStop(bin: String, dir: String, runAs: String?) {
    let first = stopCommands.withLock { all in
      all.append((bin, dir, runAs))
      return all.count == 1
    }
    guard first else { return }
    atexit {
      for (bin, dir, runAs) in PostgresCluster.stopCommands.withLock({ $0 }) {
        PostgresCluster.stop(bin: bin, dir: dir, runAs: runAs)
      }
    }
  }

  private static let stopCommands = Mutex<[(String, String, String?)]>([])

  private static func stop(bin: String, dir: String, runAs: String?) {
    try? run(bin + "/pg_ctl", ["-D", dir + "/data", "-m", "immediate", "-w", "stop"], as: runAs)
    try? FileManager.default.removeItem(atPath: dir)
  }

  /// Clusters whose test process is gone: stopped and removed.
  private static func removeAbandoned() {
    let tmp = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 }
    let base = tmp ?? "/tmp"
    let names = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
    for name in names where name.hasPrefix("drover-pg.") {
      let dir = base + "/" + name
      guard let text = try? String(contentsOfFile: dir + "/owner.pid", encoding: .utf8),
        let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
      else { continue }
      if kill(pid, 0) == 0 || errno == EPERM { continue }
      let runAs = geteuid() == 0 ? "postgres" : nil
      if let bin = try? findBin() { stop(bin: bin, dir: dir, runAs: runAs) }
    }
  }
}
