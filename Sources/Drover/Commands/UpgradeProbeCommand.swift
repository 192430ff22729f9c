import ArgumentParser
import DroverCore
import DroverSupervisor

#if canImport(Glibc)
  import Glibc
#endif

/// `drover upgrade-probe` (internal): a supervisor about to exec this binary in place runs it
/// first. It proves the binary starts, and says on fd 3 which handover format it reads and
/// its version: `drover-upgrade FORMAT VERSION`.
struct UpgradeProbeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "upgrade-probe", abstract: "Internal: answers a supervisor before an upgrade.",
    shouldDisplay: false)

  func run() throws {
    let line = "drover-upgrade \(Supervisor.upgradeFormat) \(DroverVersion.description)\n"
    guard line.withCString({ write(3, $0, strlen($0)) }) > 0 else {
      throw CLIError("upgrade-probe: fd 3 is not writable (run by a supervisor only)")
    }
  }
}
