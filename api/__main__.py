from api.commands import cli

cli()
