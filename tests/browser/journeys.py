"""Steps several browser journeys take the same way."""

from playwright.sync_api import expect

WON_DEALS_QUERY = (
    "SELECT amount, closingdate FROM Potentials WHERE sales_stage = 'Closed Won' AND "
    "closingdate >= '{{start:YYYY-MM-DD}}' AND closingdate <= '{{end:YYYY-MM-DD}}';"
)


def write_won_deals_query(page):
    """On the request step, have the VTQL helper write the won deals' amounts by closing date; the query box."""
    page.get_by_label("Module").select_option("Potentials")
    page.get_by_role("button", name="Load fields").click()
    page.locator('input[name="vtql_fields"][value="amount"]').check()
    page.locator('input[name="vtql_fields"][value="closingdate"]').check()
    page.get_by_label("Date field (limited to the dynamic range)").select_option("closingdate")
    page.get_by_label("Conditions").select_option("sales_stage=Closed Won")
    page.get_by_role("button", name="Write query").click()
    query = page.get_by_label("Parameter 1 value")
    expect(query).to_have_value(WON_DEALS_QUERY)
    return query
