"""Helpers for the sandbox tests: thin HTTP clients for the Cloud REST API and webservice.php."""

import hashlib

import pytest
import requests

from sandbox import DEMO_ACCESS_KEY, DEMO_USERNAME

TIMEOUT = 10


def md5(text):
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


class RestClient:
    """The Cloud REST API, authenticated as the demo user unless told otherwise."""

    def __init__(self, server, http):
        self.base = server.rest_url
        self.http = http

    def get(self, endpoint, auth=(DEMO_USERNAME, DEMO_ACCESS_KEY), **params):
        return self.http.get(f"{self.base}/{endpoint}", params=params, auth=auth, timeout=TIMEOUT)

    def result(self, endpoint, **params):
        response = self.get(endpoint, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        return body["result"]

    def query(self, vtql):
        return self.result("query", query=vtql)


class WebserviceClient:
    """webservice.php: the challenge/login flow, then calls carrying the session."""

    def __init__(self, server, http):
        self.url = server.webservice_url
        self.http = http
        self.session_name = None

    def get(self, **params):
        return self.http.get(self.url, params=params, timeout=TIMEOUT)

    def post(self, **data):
        return self.http.post(self.url, data=data, timeout=TIMEOUT)

    def challenge(self, username=DEMO_USERNAME):
        body = self.get(operation="getchallenge", username=username).json()
        assert body["success"] is True, body
        return body["result"]["token"]

    def login(self, access_key=DEMO_ACCESS_KEY):
        token = self.challenge()
        body = self.post(operation="login", username=DEMO_USERNAME, accessKey=md5(token + access_key)).json()
        assert body["success"] is True, body
        self.session_name = body["result"]["sessionName"]
        return body["result"]

    def call(self, operation, **params):
        """GET an operation with the session; returns the decoded body."""
        params.setdefault("sessionName", self.session_name)
        response = self.get(operation=operation, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def result(self, operation, **params):
        body = self.call(operation, **params)
        assert body["success"] is True, body
        return body["result"]

    def query(self, vtql):
        return self.result("query", query=vtql)


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture
def rest(sandbox, http):
    return RestClient(sandbox, http)


@pytest.fixture
def ws(sandbox, http):
    client = WebserviceClient(sandbox, http)
    client.login()
    return client
