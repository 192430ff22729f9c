/// The version of this build of Drover: `drover --version` prints it, the Debian package
/// (scripts/package-deb.sh) is named after it, and an upgrade logs the old and the new one.
///
/// One line, `let current = "…"`, so scripts can read it without building.
public enum DroverVersion {
  /// A Debian-compatible version string (digits first).
  public static let current = "0.1.0"
}
