# The tile's foreign key named like the model it points to (issue 12, item 6: one name for one thing).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("dashboards", "0001_initial"),
    ]

    operations = [
        migrations.RenameField(model_name="tile", old_name="board", new_name="databoard"),
        migrations.AlterModelOptions(name="tile", options={"ordering": ["databoard", "position", "pk"]}),
    ]
