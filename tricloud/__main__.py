from tricloud.cli import main

main()
