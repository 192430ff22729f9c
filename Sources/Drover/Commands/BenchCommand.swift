import ArgumentParser
import DroverCore

/// `drover bench`: release-built benchmarks, each scenario on its own supervisor and store.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Run benchmarks (build with -c release first).",
    discussion: """
      Scenarios: store, commit (the store's part of a drain in process, no supervisor: what \
      scripts/callgrind.sh counts instructions in), enqueue, drain, latency, scale, spawn, rss, stall, wakeup, http, ui (the \
      dashboard's pages with 1M jobs in the store), idle (the supervisor's CPU with 1,000 idle \
      pools), pools (a drain dealt over 1,000 pools of one worker) (default: all but store, \
      commit, stall, ui, idle and pools), and pg (PostgreSQL, with --pg-url: the driver's figures, \
      drains with 1-3 supervisors, pick-up latency at --pg-rates; each in a scratch schema; \
      pg-driver: the driver's figures alone). \
      Progress goes to stderr, a table (or --json) to stdout. Each scenario starts its own \
      `drover serve` on a temp store under /tmp, like a user would.
      """)

  @Argument(
    help:
      "Scenarios to run: store commit enqueue drain latency scale spawn rss stall wakeup http ui idle pools, or all."
  )
  var scenarios: [String] = []
  @Option(help: "Jobs for drain and batch enqueue.") var jobs: Int = 100_000
  @Option(help: "Workers for drain, latency and scale.") var workers: Int = 2
  @Option(help: "Jobs claimed per worker per turn, for commit.") var perClaim: Int = 4
  @Option(help: "Seconds per latency run.") var seconds: Int = 5
  @Option(help: "Latency rates (jobs/s), comma-separated.") var rates: String = "200,5000"
  @Option(help: "Table sizes for scale, comma-separated.") var rows: String = "10000,100000,1000000"
  @Option(help: "Retained completed jobs for stall.") var stallRows: Int = 2_000_000
  @Option(help: "A PostgreSQL URL for the pg scenario (scratch schemas are made there).")
  var pgURL: String?
  @Option(help: "Jobs per pg drain.") var pgJobs: Int = 20_000
  @Option(help: "pg latency rates (jobs/s), comma-separated.") var pgRates: String = "200,2000"
  @Flag(help: "Print figures as JSON.") var json = false

  func run() throws {
    let all = [
      "store", "commit", "enqueue", "drain", "latency", "scale", "spawn", "rss", "stall", "wakeup",
      "http",
      "ui", "idle", "pools", "pg", "pg-driver",
    ]
    var chosen =
      scenarios.isEmpty
      ? all.filter {
        !["store", "commit", "stall", "ui", "idle", "pools", "pg", "pg-driver"].contains($0)
      }
      : scenarios
    if chosen == ["all"] { chosen = all }
    for s in chosen where !all.contains(s) {
      throw CLIError.usage("unknown scenario \"\(s)\" (\(all.joined(separator: ", ")), all)")
    }
    #if DEBUG
      Output.warn("this is a debug build: figures mean little (swift build -c release)")
    #endif
    let b = BenchScenarios(
      jobs: jobs, workers: workers, seconds: seconds, progress: { Output.err("bench: " + $0) })
    var figures: [BenchFigure] = []
    for s in chosen {
      switch s {
      case "store": figures += try b.store()
      case "commit": figures += try b.commit(perClaim: perClaim)
      case "enqueue": figures += try b.enqueue()
      case "drain": figures += try b.drain()
      case "latency":
        for r in rates.split(separator: ",").compactMap({ Int($0) }) {
          figures += try b.latency(rate: r)
        }
      case "scale": figures += try b.scale(rows: rows.split(separator: ",").compactMap { Int($0) })
      case "spawn": figures += try b.spawn()
      case "rss": figures += try b.rss()
      case "stall": figures += try b.stall(retained: stallRows)
      case "wakeup": figures += try b.wakeup()
      case "http": figures += try b.http()
      case "ui": figures += try b.ui()
      case "idle": figures += try b.idle()
      case "pools": figures += try b.drainPools()
      case "pg-driver":
        guard let pgURL else { throw CLIError.usage("bench pg-driver needs --pg-url") }
        figures += try BenchPostgres(
          url: pgURL, jobs: pgJobs, workers: workers, seconds: seconds,
          progress: { Output.err("bench: " + $0) }
        ).driver()
      case "pg":
        guard let pgURL else { throw CLIError.usage("bench pg needs --pg-url") }
        let pg = BenchPostgres(
          url: pgURL, jobs: pgJobs, workers: workers, seconds: seconds,
          progress: { Output.err("bench: " + $0) })
        figures += try pg.all()
        for r in pgRates.split(separator: ",").compactMap({ Int($0) }) {
          figures += try pg.latency(rate: r)
        }
      default: break
      }
    }
    if json {
      let arr: [JSONValue] = figures.map {
        .object([
          JSONField("scenario", .string($0.scenario)), JSONField("name", .string($0.name)),
          JSONField("value", .double(($0.value * 1000).rounded() / 1000)),
          JSONField("unit", .string($0.unit)), JSONField("target", .optional($0.target)),
        ])
      }
      Output.out(JSONValue.array(arr).render())
      return
    }
    let w = max(40, figures.map(\.name.count).max() ?? 0)
    Output.out(pad("SCENARIO", 9) + pad("FIGURE", w + 2) + pad("VALUE", 14) + "TARGET")
    for f in figures {
      let v =
        f.value >= 100 ? String(Int(f.value.rounded())) : String((f.value * 100).rounded() / 100)
      Output.out(
        pad(f.scenario, 9) + pad(f.name, w + 2) + pad(v + " " + f.unit, 14)
          + (f.target.map { $0 + " " + f.unit } ?? ""))
    }
  }

  func pad(_ s: String, _ n: Int) -> String {
    s + String(repeating: " ", count: max(1, n - s.count))
  }
}
