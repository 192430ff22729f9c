import Drover

DroverCLI.main()
