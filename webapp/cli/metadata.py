"""`flask metadata ...`"""
import click

group = click.Group("metadata")
