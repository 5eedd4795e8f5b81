from ttrec.cat import main

main()
