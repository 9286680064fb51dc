"""`flask demo ...`"""
import click

group = click.Group("demo", help="Demo data for a first look.")


@group.command("seed")
@click.option("--if-empty", is_flag=True, help="Only when there are no users yet (first start).")
def seed(if_empty):
    """Not yet written: a demo platform, admin, users, client and metadata."""
    click.echo("demo seed: nothing seeded yet", err=True)
