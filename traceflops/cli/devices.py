"""`traceflops devices`: the device catalog."""
import click

from .errors import guarded


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the catalog as JSON.")
@click.option("--device-file", type=click.Path(path_type=str), default=None)
@guarded
def devices(as_json, device_file):
    """List the device catalog (dense datasheet peaks, TFLOP/s; HBM TB/s)."""
    import json

    from ..roofline import catalog_table, load_catalog
    rows = catalog_table(load_catalog(device_file))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from .render import table
    table("Device catalog (dense peaks)", rows)
