/// `[tracing]`: the supervisor exports each attempt of a job enqueued with a `traceparent` as
/// spans of that trace, by OTLP/HTTP (JSON) to `endpoint`.
public struct TracingConfig: Sendable, Equatable {
  /// The OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces`.
  public var endpoint: String
  /// `service.name` of the exported spans. Default `drover`.
  public var serviceName: String = "drover"
  public init(endpoint: String, serviceName: String = "drover") {
    self.endpoint = endpoint
    self.serviceName = serviceName
  }
}

extension ConfigLoader {
  static func tracingConfig(_ s: Section?) throws(ConfigError) -> TracingConfig? {
    guard let s else { return nil }
    try s.rejectUnknownKeys(["endpoint", "service_name"])
    guard let endpoint = try s.nonEmptyString("endpoint") else {
      throw s.error(
        "endpoint", line: s.line,
        "required: the OTLP/HTTP traces URL, e.g. endpoint = \"http://127.0.0.1:4318/v1/traces\"")
    }
    guard endpoint.value.hasPrefix("http://") || endpoint.value.hasPrefix("https://") else {
      throw s.error(
        "endpoint", line: endpoint.line,
        "must be an http:// or https:// URL, got \(TOMLKey.basicString(endpoint.value))")
    }
    var c = TracingConfig(endpoint: endpoint.value)
    if let name = try s.nonEmptyString("service_name") { c.serviceName = name.value }
    return c
  }
}
