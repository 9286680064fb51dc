"""`flask clients ...`"""
import click

group = click.Group("clients")
