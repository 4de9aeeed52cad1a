"""What the seeded business looks like: names, places, products and how often each value occurs.

Kept apart from the generator (data.py) so the shape of the business can be tuned without
touching the mechanics. Every picklist value here must exist in the module's describe file;
data.py checks that when it picks one. "" in a weight table stands for "left unset".
"""

# fmt: off
FIRST_NAMES = {
    "female": ["Emma", "Olivia", "Sophia", "Mia", "Charlotte", "Amelia", "Ella", "Zoe", "Hannah", "Lena", "Clara",
               "Sara", "Nora", "Alice", "Julia", "Laura", "Chloe", "Grace", "Maya", "Priya", "Aisha", "Yuki", "Ines",
               "Lucia", "Elena", "Freya", "Ingrid", "Noor", "Fatima", "Camille"],
    "male": ["Liam", "Noah", "Lucas", "Matthew", "Jonas", "Arjun", "Leon", "Felix", "Oliver", "Elias", "Hugo", "Mateo",
             "Daniel", "David", "Samuel", "Tom", "Ben", "Omar", "Ravi", "Kenji", "Marco", "Pablo", "Erik", "Lars",
             "Tariq", "Diego", "Max", "Paul", "Adam", "Victor"],
}
SALUTATIONS = {"Mr.": "male", "Ms.": "female", "Mrs.": "female", "Dr.": None}
# O'Brien is there on purpose: it makes '' escaping in VTQL literals worth testing.
LAST_NAMES = ["Schultz", "Mehta", "Dubois", "Evans", "Moreau", "Novak", "Jansen", "Becker", "Anderson", "Rossi",
              "Garcia", "Kowalski", "Nguyen", "Tanaka", "Silva", "Okafor", "Larsen", "Murphy", "Fischer", "Costa",
              "Patel", "Kim", "Ivanova", "Haddad", "Bauer", "Lindqvist", "O'Brien", "Walsh", "Meyer", "Hoffmann",
              "Sato", "Romero", "Martins", "Weber", "Khan", "Fernandes", "Nielsen", "Brown", "Wilson", "Taylor"]
COMPANY_STEMS = ["Acorn", "Aurora", "Bluefin", "Brightwater", "Cascade", "Cedar", "Cobalt", "Copperleaf", "Driftwood",
                 "Evergreen", "Falcon", "Granite", "Harborview", "Ironbridge", "Juniper", "Kestrel", "Lakeside",
                 "Lumen", "Meridian", "Northwind", "Oakridge", "Orchid", "Pinnacle", "Quarry", "Redwood", "Riverbend",
                 "Sage", "Silverline", "Sol", "Summit", "Tidewater", "Upland", "Vantage", "Willow", "Zenith",
                 "Maple & Pine"]
# (trade in the company name, the Industry picklist value it implies)
COMPANY_TRADES = [
    ("Logistics", "Transportation"), ("Health Partners", "Healthcare"), ("Analytics", "Technology"),
    ("Retail Co.", "Retail"), ("Energia", "Energy"), ("Manufacturing", "Manufacturing"), ("Software", "Technology"),
    ("Foods", "Food & Beverage"), ("Consulting", "Consulting"), ("Media", "Media"), ("Robotics", "Machinery"),
    ("Financial", "Finance"), ("Telecom", "Telecommunications"), ("Construction", "Construction"),
    ("Labs", "Biotechnology"), ("Hotels", "Hospitality"), ("Apparel", "Apparel"), ("Insurance", "Insurance"),
    ("Credit Union", "Banking"), ("Education Trust", "Education"),
]
COMPANY_SUFFIXES = ["GmbH", "Ltd", "Inc.", "LLC", "S.A.", "AG", "B.V.", "", "", ""]
# (city, state, country, digits of a postal code; 0 leaves it empty, as for UK postcodes)
CITIES = [
    ("Hamburg", "", "Germany", 5), ("Berlin", "", "Germany", 5), ("Munich", "", "Germany", 5),
    ("Cologne", "", "Germany", 5), ("London", "", "United Kingdom", 0), ("Manchester", "", "United Kingdom", 0),
    ("Dublin", "", "Ireland", 0), ("Paris", "", "France", 5), ("Lyon", "", "France", 5), ("Madrid", "", "Spain", 5),
    ("Barcelona", "", "Spain", 5), ("Milan", "", "Italy", 5), ("Amsterdam", "", "Netherlands", 4),
    ("Stockholm", "", "Sweden", 5), ("Copenhagen", "", "Denmark", 4), ("Vienna", "", "Austria", 4),
    ("Zurich", "", "Switzerland", 4), ("Prague", "", "Czech Republic", 5), ("Warsaw", "", "Poland", 5),
    ("Lisbon", "", "Portugal", 4), ("New York", "NY", "USA", 5), ("Seattle", "WA", "USA", 5),
    ("Austin", "TX", "USA", 5), ("Chicago", "IL", "USA", 5), ("Boston", "MA", "USA", 5), ("Denver", "CO", "USA", 5),
    ("Charlotte", "NC", "USA", 5), ("Toronto", "ON", "Canada", 0), ("Mumbai", "", "India", 6),
    ("Bangalore", "", "India", 6), ("Sydney", "NSW", "Australia", 4), ("Singapore", "", "Singapore", 6),
    ("Sao Paulo", "", "Brazil", 0), ("Mexico City", "", "Mexico", 5), ("Nairobi", "", "Kenya", 5),
]
STREETS = ["Main Street", "Harbour Road", "Market Square", "Station Road", "Park Avenue", "Mill Lane", "King Street",
           "Bridge Street", "Riverside Drive", "Hauptstrasse", "Rue de la Paix", "Calle Mayor"]
JOB_TITLES = ["CEO", "CFO", "CTO", "Head of IT", "IT Director", "Operations Manager", "Procurement Manager",
              "Purchasing Lead", "Office Manager", "Head of Sales", "Marketing Manager", "Data Lead",
              "Project Manager", "Finance Director", "Owner", "VP Technology"]
DEPARTMENTS = ["IT", "Operations", "Purchasing", "Finance", "Engineering", "Sales", "Marketing", "Admin", "Support"]
OWNERSHIP = ["Private", "Private", "Public", "Subsidiary", ""]
DEAL_TOPICS = ["Fleet Tracking Rollout", "Support Renewal", "Analytics Platform Pilot", "EHR Integration",
               "POS Upgrade", "Field Service Suite", "Training Package", "Reseller Agreement", "CAD Connector",
               "Core Banking CRM", "Compliance Reporting", "Data Warehouse Add-on", "Seat Expansion",
               "Onboarding Services", "Premium Support", "Scanner Refresh", "Multi-site Rollout", "API Integration",
               "Migration Project"]
NEXT_STEPS = ["Schedule demo", "Send revised quote", "Legal review", "Intro call with CFO", "Technical workshop",
              "Follow up after trial"]
TICKET_TITLES = [
    "GPS units dropping connection after firmware update", "Cannot log in to the customer portal",
    "Invoice PDF shows wrong VAT number", "Sync with mobile app is slow", "Scanner does not pair over Bluetooth",
    "Request for additional user seats", "Report export times out", "Dashboard widgets show no data",
    "Password reset email not received", "Question about data retention policy", "Duplicate contacts after import",
    "Barcode labels print misaligned", "API returns 429 during nightly batch", "Training session for new staff",
    "Wrong time zone on calendar events", "Device battery drains overnight", "Need help configuring workflows",
    "Email notifications arrive twice", "Custom field missing on mobile", "Licence renewal question",
]
SOLUTIONS = ["Resolved; customer confirmed.", "Applied configuration fix.", "Firmware updated to the latest release.",
             "Workaround provided; fix scheduled.", "Explained the setting to the customer.",
             "Replaced the device under warranty."]

# name, code, category, manufacturer, GL account, usage unit, unit price, purchase cost, reorder level
PRODUCTS = [
    ("FleetTrack GPS Unit", "FT-GPS-200", "Hardware", "MetBeat Corp", "301-Sales-Hardware", "Each", 250, 140, 50),
    ("CRM Cloud Seat (annual)", "CRM-SEAT-12", "Software", "LexPon Inc.", "300-Sales-Software", "Quantity", 480, 0, 0),
    ("Barcode Scanner Pro", "BSC-PRO-3", "Hardware", "AltvetPet Inc.", "301-Sales-Hardware", "Each", 189, 95, 25),
    ("Analytics Add-on (annual)", "ANL-ADD-12", "Software", "LexPon Inc.", "300-Sales-Software", "Quantity",
     1200, 0, 0),
    ("Onboarding Package", "SRV-ONB-01", "CRM Applications", "LexPon Inc.", "305-Sales Other", "Hours", 1500, 600, 0),
    ("Premium Support (annual)", "SUP-PRM-12", "CRM Applications", "MetBeat Corp", "304-Sales-Software-Support",
     "Quantity", 2400, 800, 0),
]

# Open deals move through these stages; the probability is the stage's default.
SALES_STAGES = [
    ("Prospecting", 5), ("Qualification", 10), ("Needs Analysis", 20), ("Value Proposition", 30),
    ("Id. Decision Makers", 40), ("Perception Analysis", 50), ("Proposal or Price Quote", 60),
    ("Negotiation or Review", 80),
]

# Activity by weekday (Monday first) and by hour of the day in UTC.
WEEKDAY_WEIGHT = (1.1, 1.15, 1.1, 1.0, 0.85, 0.25, 0.2)
HOUR_WEIGHT = (0, 0, 0, 0, 0, 1, 2, 4, 7, 9, 10, 10, 8, 9, 10, 9, 8, 6, 4, 2, 1, 1, 0, 0)

# Record sources: mostly typed into the CRM.
SOURCES = {"CRM": 80, "WEBSERVICE": 8, "IMPORT": 8, "MOBILE": 4}

LEAD_SOURCE = {
    "Leads": {"Web Site": 30, "Cold Call": 12, "Trade Show": 8, "Partner": 8, "Word of mouth": 8,
              "Existing Customer": 5, "Conference": 6, "Direct Mail": 4, "Public Relations": 4, "Employee": 3,
              "Self Generated": 6, "Other": 3, "": 3},
    "Contacts": {"Existing Customer": 20, "Web Site": 25, "Trade Show": 10, "Partner": 10, "Cold Call": 8,
                 "Conference": 8, "Word of mouth": 8, "Employee": 3, "": 8},
    "Potentials": {"Web Site": 22, "Existing Customer": 18, "Trade Show": 10, "Partner": 12, "Cold Call": 10,
                   "Conference": 8, "Word of mouth": 8, "Direct Mail": 3, "Public Relations": 3, "Employee": 2,
                   "": 4},
}
# Lead status by the lead's age: old leads have been worked, new ones mostly not.
LEAD_STATUS_BY_AGE = [
    (90, {"Qualified": 22, "Lost Lead": 18, "Junk Lead": 12, "Cold": 20, "Contacted": 8, "Attempted to Contact": 6,
          "Contact in Future": 6, "Not Contacted": 3, "": 5}),
    (14, {"Contacted": 18, "Attempted to Contact": 14, "Warm": 12, "Hot": 8, "Pre Qualified": 10, "Qualified": 10,
          "Cold": 10, "Junk Lead": 6, "Contact in Future": 6, "Not Contacted": 4, "": 2}),
    (0, {"Not Contacted": 35, "Attempted to Contact": 25, "Contacted": 15, "Hot": 10, "Warm": 10,
         "Pre Qualified": 5}),
]
LEAD_RATING = {"Active": 40, "Acquired": 7, "Market Failed": 5, "Project Cancelled": 5, "Shutdown": 3, "": 40}
ACCOUNT_RATING = {"Active": 55, "Acquired": 10, "Shutdown": 3, "": 32}
ACCOUNT_TYPE = {"Customer": 45, "Prospect": 30, "Partner": 8, "Reseller": 6, "Integrator": 4, "Other": 4,
                "Competitor": 1, "Analyst": 1, "Investor": 1}
OPPORTUNITY_TYPE = {"New Business": 65, "Existing Business": 35}
# Ticket status by age in days: tickets older than a month are nearly all closed.
TICKET_STATUS_BY_AGE = [
    (30, {"Closed": 92, "Wait For Response": 4, "In Progress": 3, "Open": 1}),
    (3, {"Closed": 55, "In Progress": 20, "Wait For Response": 15, "Open": 10}),
    (0, {"Open": 50, "In Progress": 30, "Wait For Response": 15, "Closed": 5}),
]
TICKET_PRIORITY = {"Low": 30, "Normal": 45, "High": 18, "Urgent": 7}
TICKET_SEVERITY = {"Minor": 45, "Major": 30, "Feature": 15, "Critical": 10}
TICKET_CATEGORY = {"Big Problem": 25, "Small Problem": 50, "Other Problem": 25}
# Invoice status by age in days: old invoices are paid (or cancelled), recent ones still out.
INVOICE_STATUS_BY_AGE = [
    (60, {"Paid": 84, "Sent": 6, "Cancel": 5, "Credit Invoice": 3, "Approved": 2}),
    (30, {"Paid": 60, "Sent": 30, "Approved": 5, "Cancel": 5}),
    (0, {"Created": 20, "Approved": 25, "Sent": 43, "Paid": 10, "AutoCreated": 2}),
]
TAX_TYPE = {"group": 80, "individual": 20}
INVOICE_QUANTITIES = (1, 1, 2, 3, 5, 5, 10, 12, 20, 25, 40)
# fmt: on


def by_age(table, age_days):
    """The weights of the first (minimum age, weights) row that an age reaches."""
    for minimum, weights in table:
        if age_days > minimum or minimum == 0:
            return weights
    return table[-1][1]
