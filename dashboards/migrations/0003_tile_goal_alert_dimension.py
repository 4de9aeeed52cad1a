# Tiles, goals and alerts for one dimension of a metric, and tiles showing a metric by dimension (issue 14, breakdowns item 4).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0002_rename_tile_board_databoard"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="dimension",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Blank: the whole metric; a dimension: that dimension alone.",
                max_length=200,
            ),
        ),
        migrations.AddField(
            model_name="goal",
            name="dimension",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Blank: the whole metric; a dimension: that dimension alone.",
                max_length=200,
            ),
        ),
        migrations.AddField(
            model_name="tile",
            name="dimension",
            field=models.CharField(
                blank=True,
                default="",
                help_text="Blank: the whole metric; a dimension: that dimension alone.",
                max_length=200,
            ),
        ),
        migrations.AlterField(
            model_name="tile",
            name="kind",
            field=models.CharField(
                choices=[
                    ("number", "Number"),
                    ("line", "Line chart"),
                    ("bar", "Bar chart"),
                    ("dim_bar", "Bar chart by dimension"),
                    ("dim_table", "Table by dimension"),
                    ("dim_donut", "Donut by dimension"),
                ],
                default="number",
                max_length=10,
            ),
        ),
    ]
