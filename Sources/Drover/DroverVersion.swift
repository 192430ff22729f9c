/// This build's version, printed by `drover --version` and logged at start-up.
public enum DroverVersion {
  /// Semantic version of the release this build belongs to.
  public static let current = "0.9.0"
}
