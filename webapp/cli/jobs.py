"""`flask jobs ...`"""
import click

group = click.Group("jobs")
