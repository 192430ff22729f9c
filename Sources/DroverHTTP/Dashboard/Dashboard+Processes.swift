import DroverCore
import DroverStore
import DroverSystem
import DroverWire
import Glibc
import Hummingbird

/// The process tree: systemd unit → supervisor → pools → workers.
extension Dashboard {
  /// The systemd unit this process runs in: the last `.service` of its cgroup path, or "a
  /// systemd unit" when only `INVOCATION_ID` says so; "not under systemd" otherwise.
  static func systemdUnit() -> String {
    if let text = readSmallFile("/proc/self/cgroup") {
      for line in text.split(separator: "\n") {
        guard let path = line.split(separator: ":", maxSplits: 2).last else { continue }
        if let unit = path.split(separator: "/").last(where: { $0.hasSuffix(".service") }) {
          return String(unit)
        }
      }
    }
    if let id = getenv("INVOCATION_ID") {
      return "a systemd unit (invocation \(String(cString: id)))"
    }
    return "not under systemd"
  }

  static func bytes(_ n: UInt64?) -> String {
    guard let n else { return "" }
    if n >= 1 << 30 { return SVGChart.fmt(Double(n) / Double(1 << 30)) + " GiB" }
    return SVGChart.fmt((Double(n) / Double(1 << 20) * 10).rounded() / 10) + " MiB"
  }

  func processes(_ request: Request) async throws -> Response {
    let s = try await api.status()
    let pools: [[String: Any]] = s.pools.map { p in
      var d: [String: Any] = [
        "name": p.name, "state": Self.poolState(p), "target": p.target, "auto": p.auto,
        "min": p.min, "max": p.max, "paused": p.paused, "types": p.types.joined(separator: ", "),
      ]
      d["workers"] = p.workers.map { w -> [String: Any] in
        var x: [String: Any] = [
          "pid": w.pid, "state": Self.workerState(w), "rss": Self.bytes(w.rss),
          "cpu": w.cpu.map { SVGChart.fmt(Double($0.components.seconds)) + " s" } ?? "",
          "runningFor": w.runningFor.map(Self.age) ?? "", "jobsDone": w.jobsDone,
        ]
        if let j = w.currentJob { x["job"] = String(j) }
        return x
      }
      return d
    }
    return page(
      request, "processes", title: "Processes",
      ["unit": Self.systemdUnit(), "pid": s.pid, "state": s.state, "pools": pools])
  }
}
