/// The version of this build of Drover: `drover --version` prints it, the Debian package
/// (scripts/package-deb.sh) is named after it, and an in-place upgrade reports the old and the
/// new one.
///
/// One line, `static let current = "…"`, so scripts can read it without building.
public enum DroverVersion {
  /// A Debian-compatible version string (digits first).
  public static let current = "0.1.0"

  /// How this binary was built: `debug` or `release` (two builds of one version differ here).
  #if DEBUG
    public static let build = "debug"
  #else
    public static let build = "release"
  #endif

  /// `0.1.0 (release build)`.
  public static var description: String { "\(current) (\(build) build)" }
}
