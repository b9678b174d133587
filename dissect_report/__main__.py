from dissect_report.cli import main

raise SystemExit(main())
