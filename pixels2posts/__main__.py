from pixels2posts.cli import main

main()
