from insightd.cli import main

main()
