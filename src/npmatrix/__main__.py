from npmatrix.cli import main

main()
