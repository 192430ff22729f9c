import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The store's files as the real `drover` creates them: modes whatever the umask, the
/// `file_mode` and `allow_symlink` settings, and links it must not follow.
@Suite("CLI: the store's files")
struct CLIStoreFileTests {
  static func mode(_ path: String) -> UInt32? {
    var st = stat()
    guard lstat(path, &st) == 0 else { return nil }
    return UInt32(st.st_mode & 0o777)
  }

  static let suffixes = ["", "-wal", "-shm", ".lock"]

  /// `drover ARGS` run by a shell with `umask` set first (the umask is the process's; setting it
  /// in the test process would change every other test's files).
  static func drover(_ cli: CLIFixture, umask: String, _ args: [String]) throws -> ProcessOutput {
    let quoted = ([cli.binary] + args + ["--config", cli.configPath]).map { "'\($0)'" }
    return try ChildProcess.run(
      "/bin/sh", ["-c", "umask \(umask) && exec \(quoted.joined(separator: " "))"],
      environment: cli.environment())
  }

  /// Under umask 000 (which would make them 0666) the files are 0600; `file_mode = "0640"`
  /// makes them 0640, also the ones that already existed.
  @Test func filesHaveTheirModeWhateverTheUmask() throws {
    let cli = try CLIFixture()
    let r = try Self.drover(cli, umask: "000", ["enqueue", "email", "{}"])
    #expect(r.exitCode == 0, "\(r.stderrText)")
    // -wal and -shm exist only while a connection is open: check the ones that remain.
    for suffix in Self.suffixes {
      if let m = Self.mode(cli.storePath + suffix) { #expect(m == 0o600, "\(suffix): \(m)") }
    }
    #expect(Self.mode(cli.storePath) == 0o600)
    #expect(Self.mode(cli.storePath + ".lock") == 0o600)

    try cli.write(
      "drover.toml",
      CLIFixture.defaultConfig.replacingOccurrences(
        of: #"path = "var/drover.db""#, with: "path = \"var/drover.db\"\nfile_mode = \"0640\""))
    let again = try Self.drover(cli, umask: "077", ["enqueue", "email", "{}"])
    #expect(again.exitCode == 0, "\(again.stderrText)")
    #expect(Self.mode(cli.storePath) == 0o640)
    #expect(Self.mode(cli.storePath + ".lock") == 0o640)

    let fresh = try CLIFixture(
      config: CLIFixture.defaultConfig.replacingOccurrences(
        of: #"path = "var/drover.db""#, with: "path = \"var/drover.db\"\nfile_mode = \"0640\""))
    let made = try Self.drover(fresh, umask: "000", ["enqueue", "email", "{}"])
    #expect(made.exitCode == 0, "\(made.stderrText)")
    #expect(Self.mode(fresh.storePath) == 0o640)
  }

  /// A bad `file_mode` or `allow_symlink` is an error naming the key and its line.
  @Test func badFileSettingsAreNamed() throws {
    for (line, key) in [
      (#"file_mode = "0666""#, "file_mode"), ("allow_symlink = 1", "allow_symlink"),
    ] {
      let cli = try CLIFixture(
        config: CLIFixture.defaultConfig.replacingOccurrences(
          of: #"path = "var/drover.db""#, with: "path = \"var/drover.db\"\n\(line)"))
      let r = try cli.drover(["config", "check"])
      #expect(r.exitCode != 0)
      #expect(r.stdoutText.contains(key) || r.stderrText.contains(key), "\(r.stderrText)")
      #expect(r.stdoutText.contains(":3") || r.stderrText.contains(":3"), "\(r.stderrText)")
    }
  }

  /// A store path that is a link is refused unless `allow_symlink = true`; the refusal names
  /// the setting.
  @Test func aLinkedStorePathNeedsAllowSymlink() throws {
    let config = """
      [store]
      path = "var/link.db"

      [pools.email]
      """
    let cli = try CLIFixture(config: config)
    #expect(mkdir(cli.dir.file("var"), 0o700) == 0)
    #expect(symlink(cli.dir.file("real.db"), cli.dir.file("var/link.db")) == 0)
    let refused = try cli.drover(["enqueue", "email", "{}"])
    #expect(refused.exitCode != 0)
    #expect(refused.stderrText.contains("allow_symlink"), "\(refused.stderrText)")
    #expect(access(cli.dir.file("real.db"), F_OK) != 0, "nothing was created through the link")

    try cli.write(
      "drover.toml",
      config.replacingOccurrences(
        of: #"path = "var/link.db""#, with: "path = \"var/link.db\"\nallow_symlink = true"))
    let id = try cli.enqueue(["email", "{}"])
    #expect(access(cli.dir.file("real.db"), F_OK) == 0, "the store is the link's target")
    let shown = try cli.drover(["jobs", "show", "\(id)"])
    #expect(shown.exitCode == 0, "\(shown.stderrText)")
  }

  /// A `-wal` planted as a link to another file (a root supervisor would write through it) is
  /// refused, and its target is untouched.
  @Test func aPlantedWalLinkIsNotFollowed() throws {
    let cli = try CLIFixture()
    #expect(mkdir(cli.dir.file("var"), 0o700) == 0)
    let victim = try cli.write("victim", "precious\n")
    #expect(symlink(victim, cli.storePath + "-wal") == 0)
    let r = try cli.drover(["enqueue", "email", "{}"])
    #expect(r.exitCode != 0)
    #expect(r.stderrText.contains("-wal"), "\(r.stderrText)")
    #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious\n")
  }
}
