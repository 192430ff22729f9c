import Testing

@testable import DroverCore

/// One invalid config and the error it must give.
struct BadConfig: CustomTestStringConvertible, Sendable {
  var text: String
  var key: String?
  var line: Int?
  var message: String
  var testDescription: String { "\(key ?? "-"): \(message)" }

  init(_ text: String, _ key: String?, line: Int?, _ message: String) {
    self.text = text
    self.key = key
    self.line = line
    self.message = message
  }
}

/// The smallest valid pool table, for error cases to extend.
let emailPool = "[pools.email]\n"

/// Invalid configs and the key, line and message each must give.
let badConfigs: [BadConfig] = [
  // Sections and keys.
  .init(emailPool + "[metrics]\nport = 1", "metrics", line: 2, "unknown section"),
  .init("colour = 1\n" + emailPool, "colour", line: 1, "unknown key"),
  .init(emailPool + "colour = \"red\"", "pools.email.colour", line: 2, "unknown key"),
  .init("[store]\nfsync = true\n" + emailPool, "store.fsync", line: 2, "unknown key"),
  .init("store = 1\n" + emailPool, "store", line: 1, "must be a table like [store], got 1"),
  // [store]
  .init(
    "[store]\nsynchronous = \"fast\"\n" + emailPool, "store.synchronous", line: 2,
    "must be \"normal\" or \"full\", got \"fast\""),
  .init("[store]\npath = \"\"\n" + emailPool, "store.path", line: 2, "must not be empty"),
  .init("[store]\npath = 5\n" + emailPool, "store.path", line: 2, "must be a string, got 5"),
  .init(
    "[store]\nretain_dead = \"30 days\"\n" + emailPool, "store.retain_dead", line: 2,
    "invalid duration \"30 days\" (use e.g. \"250ms\", \"30s\", \"5m\", \"1h\", \"7d\")"),
  .init(
    "[store]\nretain_completed = 7\n" + emailPool, "store.retain_completed", line: 2,
    "must be a duration string like \"30s\", got 7"),
  .init(
    "[store]\nurl = \"mysql://x\"\n" + emailPool, "store.url", line: 2,
    "must be a postgres:// or postgresql:// URL, got \"mysql://x\""),
  // [http]
  .init(
    "[http]\nlisten = \"0.0.0.0:8080\"\n" + emailPool, "http.token", line: 2,
    "required when listen (\"0.0.0.0:8080\") is not loopback"),
  .init(
    "[http]\nlisten = \"[::]:80\"\n" + emailPool, "http.token", line: 2,
    "required when listen (\"[::]:80\") is not loopback"),
  .init(
    "[http]\nlisten = \"example.com:80\"\n" + emailPool, "http.token", line: 2,
    "required when listen (\"example.com:80\") is not loopback"),
  .init(
    "[http]\nlisten = \"127.0.0.1:8080\"\ntoken = \"\"\n" + emailPool, "http.token", line: 3,
    "must not be empty"),
  .init(
    "[http]\nlisten = \"127.0.0.1:1\"\ntoken = \"t\"\ntoken_file = \"f\"\n" + emailPool,
    "http.token_file", line: 3, "give token or token_file, not both"),
  .init(
    "[http]\nlisten = \"127.0.0.1:1\"\ntoken = \"t\"\nread_token = \"t\"\n" + emailPool,
    "http.read_token", line: 4, "must differ from token"),
  .init(
    "[http]\nlisten = \"127.0.0.1:1\"\nread_token = \"\"\n" + emailPool, "http.read_token",
    line: 3, "must not be empty"),
  .init(
    "[http]\ntoken = \"t\"\n" + emailPool, "http.listen", line: 1,
    "missing (e.g. listen = \"127.0.0.1:8080\")"),
  .init(
    "[http]\nlisten = \"8080\"\n" + emailPool, "http.listen", line: 2,
    "must be \"host:port\" (IPv6 in brackets: \"[::1]:8080\"), got \"8080\""),
  .init(
    "[http]\nlisten = \"::1:8080\"\n" + emailPool, "http.listen", line: 2,
    "must be \"host:port\" (IPv6 in brackets: \"[::1]:8080\"), got \"::1:8080\""),
  .init(
    "[http]\nlisten = \"localhost:65536\"\n" + emailPool, "http.listen", line: 2,
    "must be \"host:port\" (IPv6 in brackets: \"[::1]:8080\"), got \"localhost:65536\""),
  .init(
    "[http]\nlisten = \":8080\"\n" + emailPool, "http.listen", line: 2,
    "must be \"host:port\" (IPv6 in brackets: \"[::1]:8080\"), got \":8080\""),
  // [supervisor]
  .init(
    "[supervisor]\ndrain_timeout = \"-1s\"\n" + emailPool, "supervisor.drain_timeout", line: 2,
    "invalid duration \"-1s\" (use e.g. \"250ms\", \"30s\", \"5m\", \"1h\", \"7d\")"),
  // Pools: presence and names.
  .init("[store]\n", "pools", line: nil, "no pools defined; add a [pools.NAME] table"),
  .init("[pools]\n", "pools", line: 1, "no pools defined; add a [pools.NAME] table"),
  .init("pools = 3\n", "pools", line: 1, "must be a table like [pools.NAME], got 3"),
  .init(
    "[pools]\nemail = 3\n", "pools.email", line: 2, "must be a table like [pools.email], got 3"),
  .init(
    "[pools.\"a b\"]\n", "pools.\"a b\"", line: 1, "a pool name may only use A-Z a-z 0-9 _ . : -"),
  .init("[pools.\"\"]\n", "pools.\"\"", line: 1, "a pool name must not be empty"),
  // Pools: types.
  .init(emailPool + "types = []", "pools.email.types", line: 2, "must list at least one job type"),
  .init(
    emailPool + "types = [\"a\", 1]", "pools.email.types", line: 2,
    "must be an array of strings, got 1 in it"),
  .init(
    emailPool + "types = \"email\"", "pools.email.types", line: 2,
    "must be an array of strings, got \"email\""),
  .init(
    emailPool + "types = [\"a/b\"]", "pools.email.types", line: 2,
    "job type \"a/b\" may only use A-Z a-z 0-9 _ . : -"),
  .init(emailPool + "types = [\"\"]", "pools.email.types", line: 2, "a job type must not be empty"),
  .init(
    emailPool + "types = [\"a\", \"a\"]", "pools.email.types", line: 2,
    "job type \"a\" is listed twice"),
  .init(
    emailPool + "types = [\"mail\"]\n[pools.other]\ntypes = [\"x\", \"mail\"]\n",
    "pools.other.types",
    line: 4, "job type \"mail\" is already run by pool \"email\""),
  .init(
    emailPool + "[pools.other]\ntypes = [\"email\"]\n", "pools.other.types", line: 3,
    "job type \"email\" is already run by pool \"email\""),
  .init(
    "[pools.a]\ntypes = [\"b\"]\n[pools.b]\n", "pools.b.types", line: 3,
    "job type \"b\" is already run by pool \"a\""),
  // Pools: handler and command.
  .init(
    emailPool + "handler = \"exec\"", "pools.email.command", line: 2,
    "required when handler is \"exec\" (e.g. command = [\"/usr/bin/env\", \"my-job\"])"),
  .init(
    emailPool + "handler = \"exec\"\ncommand = []", "pools.email.command", line: 3,
    "required when handler is \"exec\" (e.g. command = [\"/usr/bin/env\", \"my-job\"])"),
  .init(
    emailPool + "handler = \"exec\"\ncommand = [\"\"]", "pools.email.command", line: 3,
    "the program must not be empty"),
  .init(
    emailPool + "handler = \"exec\"\ncommand = [\"x\", \"a\\u0000b\"]", "pools.email.command",
    line: 3, "an argument must not contain a NUL character"),
  .init(
    emailPool + "command = [\"/bin/true\"]", "pools.email.command", line: 2,
    "only used with handler \"exec\" (this pool's handler is \"noop\")"),
  .init(emailPool + "handler = \"\"", "pools.email.handler", line: 2, "must not be empty"),
  .init(
    emailPool + "handler = \"my handler\"", "pools.email.handler", line: 2,
    "must be noop, sleep, fail, crash, exec or a handler's name (A-Z a-z 0-9 _ . : -), got "
      + "\"my handler\""),
  // Pools: numbers.
  .init(
    emailPool + "min = 5\nmax = 2", "pools.email.min", line: 2, "min (5) is greater than max (2)"),
  .init(emailPool + "min = -1", "pools.email.min", line: 2, "must be between 0 and 1024, got -1"),
  .init(emailPool + "max = 0", "pools.email.max", line: 2, "must be between 1 and 1024, got 0"),
  .init(emailPool + "max = \"4\"", "pools.email.max", line: 2, "must be an integer, got \"4\""),
  .init(emailPool + "max = 4.0", "pools.email.max", line: 2, "must be an integer, got 4.0"),
  .init(
    emailPool + "concurrency = 0", "pools.email.concurrency", line: 2,
    "must be between 1 and 1024, got 0"),
  .init(
    emailPool + "max_attempts = 0", "pools.email.max_attempts", line: 2,
    "must be between 1 and 1000000, got 0"),
  .init(
    emailPool + "max_jobs = -3", "pools.email.max_jobs", line: 2,
    "must be between 0 and 1000000000, got -3"),
  .init(
    emailPool + "timeout = \"0s\"", "pools.email.timeout", line: 2,
    "must be longer than zero, got \"0s\""),
  .init(
    emailPool + "timeout = \"0\"", "pools.email.timeout", line: 2,
    "must be longer than zero, got \"0\""),
  .init(
    emailPool + "idle_timeout = \"1.5s\"", "pools.email.idle_timeout", line: 2,
    "invalid duration \"1.5s\" (use e.g. \"250ms\", \"30s\", \"5m\", \"1h\", \"7d\")"),
  .init(
    emailPool + "max_rss = \"lots\"", "pools.email.max_rss", line: 2,
    "invalid size \"lots\" (use e.g. \"512MiB\", \"2GiB\" or bytes)"),
  .init(emailPool + "max_rss = -1", "pools.email.max_rss", line: 2, "must be at least 0, got -1"),
  .init(
    emailPool + "max_rss = true", "pools.email.max_rss", line: 2,
    "must be a size like \"512MiB\" or a byte count, got true"),
  // Pools: backoff.
  .init(
    emailPool + "backoff = \"1s\"", "pools.email.backoff", line: 2,
    "must be a table like { base = \"1s\", cap = \"1h\" }, got \"1s\""),
  .init(
    emailPool + "backoff = { base = \"1s\", jitter = true }", "pools.email.backoff.jitter", line: 2,
    "unknown key"),
  .init(
    emailPool + "backoff = { base = \"2h\" }", "pools.email.backoff.base", line: 2,
    "base (2h) is greater than cap (1h)"),
  .init(
    emailPool + "\n[pools.email.backoff]\nbase = \"1m\"\ncap = \"1s\"\n", "pools.email.backoff.cap",
    line: 5, "base (1m) is greater than cap (1s)"),
  .init(
    emailPool + "backoff = { cap = \"forever\" }", "pools.email.backoff.cap", line: 2,
    "invalid duration \"forever\" (use e.g. \"250ms\", \"30s\", \"5m\", \"1h\", \"7d\")"),
  // Ranges (ConfigLimits): values that would overflow or that no worker can honour.
  .init(
    emailPool + "max_jobs = 9223372036854775807", "pools.email.max_jobs", line: 2,
    "must be between 0 and 1000000000, got 9223372036854775807"),
  .init(
    emailPool + "max_jobs = 1000000001", "pools.email.max_jobs", line: 2,
    "must be between 0 and 1000000000, got 1000000001"),
  .init(
    emailPool + "concurrency = 1000000", "pools.email.concurrency", line: 2,
    "must be between 1 and 1024, got 1000000"),
  .init(
    emailPool + "max = 1025", "pools.email.max", line: 2, "must be between 1 and 1024, got 1025"),
  .init(
    emailPool + "min = 2000\nmax = 4", "pools.email.min", line: 2,
    "must be between 0 and 1024, got 2000"),
  .init(
    emailPool + "max_attempts = 1000001", "pools.email.max_attempts", line: 2,
    "must be between 1 and 1000000, got 1000001"),
  .init(
    emailPool + "idle_timeout = \"106752d\"", "pools.email.idle_timeout", line: 2,
    "must be between 0 and 365d, got \"106752d\""),
  .init(
    emailPool + "idle_timeout = \"366d\"", "pools.email.idle_timeout", line: 2,
    "must be between 0 and 365d, got \"366d\""),
  .init(
    emailPool + "timeout = \"400d\"", "pools.email.timeout", line: 2,
    "must be between 1us and 365d, got \"400d\""),
  .init(
    "[supervisor]\ndrain_timeout = \"106752d\"\n" + emailPool, "supervisor.drain_timeout",
    line: 2, "must be between 0 and 365d, got \"106752d\""),
  .init(
    emailPool + "backoff = { base = \"1s\", cap = \"366d\" }", "pools.email.backoff.cap",
    line: 2, "must be between 0 and 365d, got \"366d\""),
  .init(
    emailPool + "backoff = { base = \"400d\", cap = \"1s\" }", "pools.email.backoff.base",
    line: 2, "must be between 0 and 365d, got \"400d\""),
  .init(
    emailPool + "max_rss = \"2TiB\"", "pools.email.max_rss", line: 2,
    "invalid size \"2TiB\" (use e.g. \"512MiB\", \"2GiB\" or bytes)"),
  .init(
    emailPool + "max_rss = 1099511627777", "pools.email.max_rss", line: 2,
    "must be between 0 and 1099511627776 bytes, got 1099511627777"),
  .init(
    "[store]\nretain_completed = \"36501d\"\n" + emailPool, "store.retain_completed", line: 2,
    "must be between 0 and 36500d, got \"36501d\""),
  .init(
    "[store]\nretain_dead = \"106751990d\"\n" + emailPool, "store.retain_dead", line: 2,
    "must be between 0 and 36500d, got \"106751990d\""),
  .init(
    "[store]\nmax_payload = \"9MiB\"\n" + emailPool, "store.max_payload", line: 2,
    "must be between 1024 and 8388608 bytes, got 9437184"),
  .init(
    "[store]\nmax_payload = 10\n" + emailPool, "store.max_payload", line: 2,
    "must be between 1024 and 8388608 bytes, got 10"),
  // TOML errors come through with their lines.
  .init(
    emailPool + "max = 1\nmax = 2", "pools.email.max", line: 3,
    "duplicate key (first set on line 2)"),
  .init(emailPool + "max = ", "pools.email.max", line: 2, "missing value"),
  // Limits.
  .init(
    emailPool + "concurrency_limit = 5", "pools.email.concurrency_limit", line: 2,
    "must be a table like { limit = 5, key = \"account_id\" }, got 5"),
  .init(
    emailPool + "concurrency_limit = { key = \"a\" }", "pools.email.concurrency_limit.limit",
    line: 2, "required: how many jobs of a key may run at once"),
  .init(
    emailPool + "concurrency_limit = { limit = 0 }", "pools.email.concurrency_limit.limit",
    line: 2, "must be between 1 and 1000000, got 0"),
  .init(
    emailPool + "concurrency_limit = { limit = 2, keys = \"a\" }",
    "pools.email.concurrency_limit.keys", line: 2, "unknown key (did you mean \"key\"?)"),
  .init(
    emailPool + "rate = \"100 per minute\"", "pools.email.rate", line: 2,
    "invalid rate \"100 per minute\" (use e.g. \"100/1m\", or a table "
      + "{ limit = 100, per = \"1m\", burst = 10, key = \"account_id\" })"),
  .init(
    emailPool + "rate = { limit = 10 }", "pools.email.rate.per", line: 2,
    "required: the period, e.g. per = \"1m\""),
  .init(
    emailPool + "rate = { limit = 10, per = \"0s\" }", "pools.email.rate.per", line: 2,
    "must be longer than zero, got \"0s\""),
  .init(
    emailPool + "concurrency_limit = { limit = 2, key = \"account\" }\n"
      + "rate = { limit = 10, per = \"1m\", key = \"user\" }", "pools.email.rate", line: 3,
    "rate's key (\"user\") differs from concurrency_limit's (\"account\"): a job has one key, "
      + "so both limits must name the same payload field"),
]
