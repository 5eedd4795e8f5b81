from ttrec.cli import main

main()
