from envdoctor.cli.main import main

raise SystemExit(main())
