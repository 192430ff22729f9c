import Drover
import ExampleJobs

// `example-app serve --config drover.toml` runs the supervisor; its workers are this binary
// again (`example-app worker …`) and run the handlers registered here.
DroverCLI.main(handlers: exampleHandlers())
