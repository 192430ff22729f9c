/// The API's OpenAPI 3.1 document, served at `GET /openapi.json`. Generated from
/// `docs/openapi.json` (the copy to read and to feed tools) by `scripts/openapi.py`; a
/// test checks the two are equal and that the document and the server's routes match.
enum OpenAPIDocument {
  static let json = #"""
    {
      "openapi": "3.1.0",
      "info": {
        "title": "Drover HTTP API",
        "version": "1",
        "description": "The HTTP API of `drover serve` (CONTRACT.md, \"HTTP API\"). JSON shapes are the CLI's `--json`. Errors are {\"error\", \"field\"}. With a token configured every route but /livez needs `Authorization: Bearer TOKEN`; the read token may only GET (403 otherwise)."
      },
      "security": [
        {
          "bearer": []
        }
      ],
      "paths": {
        "/alerts": {
          "get": {
            "summary": "The alert history, newest first (open=true: only the alerts still firing; a dead job's alert stays open until acknowledged)",
            "tags": [
              "alerts"
            ],
            "responses": {
              "200": {
                "description": "the alerts",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object",
                      "properties": {
                        "alerts": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/Alert"
                          }
                        }
                      },
                      "required": [
                        "alerts"
                      ]
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "open",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "boolean",
                  "default": false
                },
                "description": "only the firing ones"
              },
              {
                "name": "limit",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "integer",
                  "minimum": 1,
                  "maximum": 1000,
                  "default": 100
                },
                "description": "at most this many"
              }
            ]
          }
        },
        "/alerts/{id}/ack": {
          "post": {
            "summary": "Acknowledge an alert: it is not sent again until it resolves and fires anew (a dead job's alert is resolved by it); acknowledging twice keeps the first",
            "tags": [
              "alerts"
            ],
            "responses": {
              "200": {
                "description": "the alert",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Alert"
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              },
              "415": {
                "$ref": "#/components/responses/Error"
              },
              "422": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "id",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "integer",
                  "minimum": 1
                }
              }
            ],
            "requestBody": {
              "required": false,
              "content": {
                "application/json": {
                  "schema": {
                    "type": "object",
                    "properties": {
                      "by": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "default": "http"
                      }
                    }
                  }
                }
              }
            }
          }
        },
        "/jobs": {
          "post": {
            "summary": "Enqueue one job (an object, 201 + the job; 200 when a live job held its unique_key) or a batch (a JSON array, or NDJSON lines; all or nothing; 201 + {jobs}). Acknowledged once durable.",
            "tags": [
              "jobs"
            ],
            "responses": {
              "201": {
                "description": "created",
                "content": {
                  "application/json": {
                    "schema": {
                      "oneOf": [
                        {
                          "$ref": "#/components/schemas/Job"
                        },
                        {
                          "$ref": "#/components/schemas/JobPage"
                        }
                      ]
                    }
                  }
                }
              },
              "200": {
                "description": "a live job held the unique key",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Job"
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "413": {
                "$ref": "#/components/responses/Error"
              },
              "415": {
                "$ref": "#/components/responses/Error"
              },
              "422": {
                "$ref": "#/components/responses/Error"
              },
              "503": {
                "$ref": "#/components/responses/Error"
              }
            },
            "requestBody": {
              "required": true,
              "content": {
                "application/json": {
                  "schema": {
                    "oneOf": [
                      {
                        "$ref": "#/components/schemas/EnqueueRequest"
                      },
                      {
                        "type": "array",
                        "items": {
                          "$ref": "#/components/schemas/EnqueueRequest"
                        },
                        "maxItems": 10000
                      }
                    ]
                  }
                },
                "application/x-ndjson": {
                  "schema": {
                    "type": "string",
                    "description": "one EnqueueRequest per line"
                  }
                },
                "application/jsonl": {
                  "schema": {
                    "type": "string",
                    "description": "one EnqueueRequest per line"
                  }
                }
              }
            }
          },
          "get": {
            "summary": "List jobs, newest first, filtered; keyset pagination (`after` = the previous `next`).",
            "tags": [
              "jobs"
            ],
            "responses": {
              "200": {
                "description": "a page",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/JobPage"
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "state",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string",
                  "enum": [
                    "waiting",
                    "scheduled",
                    "queued",
                    "running",
                    "completed",
                    "cancelled",
                    "dead"
                  ]
                },
                "description": "job state"
              },
              {
                "name": "type",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string"
                },
                "description": "job type"
              },
              {
                "name": "priority_min",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "integer"
                },
                "description": "priority at least"
              },
              {
                "name": "priority_max",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "integer"
                },
                "description": "priority at most"
              },
              {
                "name": "created_after",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string",
                  "format": "date-time"
                },
                "description": "created_at ≥"
              },
              {
                "name": "created_before",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string",
                  "format": "date-time"
                },
                "description": "created_at <"
              },
              {
                "name": "finished_after",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string",
                  "format": "date-time"
                },
                "description": "finished_at ≥"
              },
              {
                "name": "finished_before",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string",
                  "format": "date-time"
                },
                "description": "finished_at <"
              },
              {
                "name": "payload",
                "in": "query",
                "required": false,
                "style": "form",
                "explode": true,
                "schema": {
                  "type": "object",
                  "additionalProperties": {
                    "type": "string"
                  }
                },
                "description": "one payload field match, written payload.FIELD[.FIELD…]=VALUE; VALUE is a JSON literal (42, true, \"x\") or else a string"
              },
              {
                "name": "after",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string"
                },
                "description": "cursor: the previous page's next"
              },
              {
                "name": "limit",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "integer",
                  "minimum": 1,
                  "maximum": 1000,
                  "default": 100
                },
                "description": "page size"
              }
            ]
          }
        },
        "/jobs/{id}": {
          "get": {
            "summary": "One job with its errors",
            "tags": [
              "jobs"
            ],
            "responses": {
              "200": {
                "description": "the job",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Job"
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "id",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "integer",
                  "minimum": 1
                }
              }
            ]
          }
        },
        "/jobs/{id}/cancel": {
          "post": {
            "summary": "Cancel: waiting/scheduled/queued at once (cancel: cancelled), running on request (cancel: requested); the jobs waiting on it follow their on_parent_failure, or with cascade=true are all cancelled, down the whole waiting subtree",
            "tags": [
              "jobs"
            ],
            "responses": {
              "200": {
                "description": "the job",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Job"
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              },
              "409": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "id",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "integer",
                  "minimum": 1
                }
              },
              {
                "name": "cascade",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "boolean",
                  "default": false
                },
                "description": "also cancel the whole waiting subtree"
              }
            ]
          }
        },
        "/jobs/{id}/retry": {
          "post": {
            "summary": "Queue a dead or cancelled job again",
            "tags": [
              "jobs"
            ],
            "responses": {
              "200": {
                "description": "the job",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Job"
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              },
              "409": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "id",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "integer",
                  "minimum": 1
                }
              }
            ]
          }
        },
        "/dead/requeue": {
          "post": {
            "summary": "Requeue dead jobs: {ids} (all or nothing), {all: true}, or a filter (type, priority_min, priority_max, created_after, created_before, finished_after, finished_before, payload.FIELD, limit ≤ 1000000, default 10000)",
            "tags": [
              "dead"
            ],
            "responses": {
              "200": {
                "description": "how many",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object",
                      "properties": {
                        "requeued": {
                          "type": "integer"
                        }
                      },
                      "required": [
                        "requeued"
                      ]
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              },
              "409": {
                "$ref": "#/components/responses/Error"
              },
              "413": {
                "$ref": "#/components/responses/Error"
              },
              "415": {
                "$ref": "#/components/responses/Error"
              },
              "422": {
                "$ref": "#/components/responses/Error"
              }
            },
            "requestBody": {
              "required": true,
              "content": {
                "application/json": {
                  "schema": {
                    "type": "object",
                    "properties": {
                      "ids": {
                        "type": "array",
                        "items": {
                          "type": "integer"
                        },
                        "maxItems": 10000
                      },
                      "all": {
                        "const": true
                      },
                      "type": {
                        "type": "string"
                      },
                      "limit": {
                        "type": "integer"
                      }
                    }
                  }
                }
              }
            }
          }
        },
        "/stats": {
          "get": {
            "summary": "Counts by state, as `jobs stats --json`; with `window`, the window's finished attempts as `jobs stats --window --json` (per-minute aggregates; p95 is the upper edge of its power-of-two bucket: at most twice the true value)",
            "tags": [
              "jobs"
            ],
            "responses": {
              "200": {
                "description": "counts, or the window's stats",
                "content": {
                  "application/json": {
                    "schema": {
                      "oneOf": [
                        {
                          "$ref": "#/components/schemas/Stats"
                        },
                        {
                          "$ref": "#/components/schemas/WindowStats"
                        }
                      ]
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "window",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string",
                  "examples": [
                    "1h"
                  ]
                },
                "description": "a duration (15m, 1h, 7d): report this window's finished attempts"
              },
              {
                "name": "stuck_after",
                "in": "query",
                "required": false,
                "schema": {
                  "type": "string",
                  "examples": [
                    "10m"
                  ]
                },
                "description": "with window: a running job is stuck after this (default: its pool's timeout)"
              }
            ]
          }
        },
        "/pools": {
          "get": {
            "summary": "Pools and their workers (pid, busy, current job, RSS, jobs done), as `ctl status`'s pools",
            "tags": [
              "pools"
            ],
            "responses": {
              "200": {
                "description": "pools",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object",
                      "properties": {
                        "pools": {
                          "type": "array",
                          "items": {
                            "$ref": "#/components/schemas/Pool"
                          }
                        }
                      }
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              }
            }
          }
        },
        "/pools/{name}/scale": {
          "post": {
            "summary": "Pin a pool's worker count (min ≤ N ≤ max) or return it to autoscaling",
            "tags": [
              "pools"
            ],
            "responses": {
              "200": {
                "description": "scaled",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object",
                      "properties": {
                        "pool": {
                          "type": "string"
                        },
                        "target": {
                          "type": "integer"
                        },
                        "auto": {
                          "type": "boolean"
                        }
                      }
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              },
              "413": {
                "$ref": "#/components/responses/Error"
              },
              "415": {
                "$ref": "#/components/responses/Error"
              },
              "422": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "name",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "string"
                }
              }
            ],
            "requestBody": {
              "required": true,
              "content": {
                "application/json": {
                  "schema": {
                    "type": "object",
                    "properties": {
                      "workers": {
                        "oneOf": [
                          {
                            "type": "integer",
                            "minimum": 0
                          },
                          {
                            "const": "auto"
                          }
                        ]
                      }
                    },
                    "required": [
                      "workers"
                    ],
                    "additionalProperties": false
                  }
                }
              }
            }
          }
        },
        "/pools/{name}/drain": {
          "post": {
            "summary": "Quiet mode: stop dispatching, let running jobs finish",
            "tags": [
              "pools"
            ],
            "responses": {
              "200": {
                "description": "pools affected",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object",
                      "properties": {
                        "pools": {
                          "type": "array",
                          "items": {
                            "type": "string"
                          }
                        }
                      }
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "name",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "string"
                }
              }
            ]
          }
        },
        "/pools/{name}/resume": {
          "post": {
            "summary": "End quiet mode",
            "tags": [
              "pools"
            ],
            "responses": {
              "200": {
                "description": "pools affected",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object",
                      "properties": {
                        "pools": {
                          "type": "array",
                          "items": {
                            "type": "string"
                          }
                        }
                      }
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "404": {
                "$ref": "#/components/responses/Error"
              }
            },
            "parameters": [
              {
                "name": "name",
                "in": "path",
                "required": true,
                "schema": {
                  "type": "string"
                }
              }
            ]
          }
        },
        "/reload": {
          "post": {
            "summary": "Re-read the config file; a bad one is refused (422) and the old one stays",
            "tags": [
              "pools"
            ],
            "responses": {
              "200": {
                "description": "reloaded",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object"
                    }
                  }
                }
              },
              "400": {
                "$ref": "#/components/responses/Error"
              },
              "401": {
                "$ref": "#/components/responses/Error"
              },
              "403": {
                "$ref": "#/components/responses/Error"
              },
              "422": {
                "$ref": "#/components/responses/Error"
              }
            }
          }
        },
        "/livez": {
          "get": {
            "summary": "The loop turns (the watchdog's condition); no token needed",
            "tags": [
              "health"
            ],
            "responses": {
              "200": {
                "description": "alive",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object"
                    }
                  }
                }
              },
              "503": {
                "description": "stalled",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object"
                    }
                  }
                }
              }
            },
            "security": []
          }
        },
        "/readyz": {
          "get": {
            "summary": "Ready: every pool has its min workers (running, draining or drained) and the store can be written",
            "tags": [
              "health"
            ],
            "responses": {
              "200": {
                "description": "ready",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object"
                    }
                  }
                }
              },
              "503": {
                "description": "starting or stopping, or the store cannot be written (reason)",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object"
                    }
                  }
                }
              },
              "401": {
                "$ref": "#/components/responses/Error"
              }
            }
          }
        },
        "/health": {
          "get": {
            "summary": "healthy | degraded (200) | unhealthy (503), with reasons",
            "tags": [
              "health"
            ],
            "responses": {
              "200": {
                "description": "healthy or degraded",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Health"
                    }
                  }
                }
              },
              "503": {
                "description": "unhealthy",
                "content": {
                  "application/json": {
                    "schema": {
                      "$ref": "#/components/schemas/Health"
                    }
                  }
                }
              },
              "401": {
                "$ref": "#/components/responses/Error"
              }
            }
          }
        },
        "/metrics": {
          "get": {
            "summary": "Prometheus text (CONTRACT.md, Metrics)",
            "tags": [
              "health"
            ],
            "responses": {
              "200": {
                "description": "metrics",
                "content": {
                  "text/plain": {
                    "schema": {
                      "type": "string"
                    }
                  }
                }
              },
              "401": {
                "$ref": "#/components/responses/Error"
              }
            }
          }
        },
        "/openapi.json": {
          "get": {
            "summary": "This document",
            "tags": [
              "meta"
            ],
            "responses": {
              "200": {
                "description": "OpenAPI 3.1",
                "content": {
                  "application/json": {
                    "schema": {
                      "type": "object"
                    }
                  }
                }
              },
              "401": {
                "$ref": "#/components/responses/Error"
              }
            }
          }
        }
      },
      "components": {
        "securitySchemes": {
          "bearer": {
            "type": "http",
            "scheme": "bearer"
          }
        },
        "responses": {
          "Error": {
            "description": "refused",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        },
        "schemas": {
          "Error": {
            "type": "object",
            "properties": {
              "error": {
                "type": "string"
              },
              "field": {
                "type": "string"
              }
            },
            "required": [
              "error"
            ]
          },
          "EnqueueRequest": {
            "type": "object",
            "additionalProperties": false,
            "required": [
              "type"
            ],
            "properties": {
              "type": {
                "type": "string",
                "minLength": 1
              },
              "payload": {
                "type": "object"
              },
              "priority": {
                "type": "integer",
                "minimum": -1000000,
                "maximum": 1000000
              },
              "delay": {
                "type": "string",
                "examples": [
                  "30s"
                ]
              },
              "at": {
                "type": "string",
                "format": "date-time"
              },
              "max_attempts": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1000000
              },
              "unique_key": {
                "type": "string",
                "minLength": 1
              },
              "backoff": {
                "type": "object",
                "properties": {
                  "base": {
                    "type": "string"
                  },
                  "cap": {
                    "type": "string"
                  }
                },
                "required": [
                  "base",
                  "cap"
                ]
              },
              "ref": {
                "type": "string",
                "minLength": 1,
                "description": "a name the after of other jobs of the same batch may use"
              },
              "after": {
                "type": "array",
                "items": {
                  "oneOf": [
                    {
                      "type": "integer",
                      "minimum": 1
                    },
                    {
                      "type": "string",
                      "minLength": 1
                    }
                  ]
                },
                "description": "parents: existing job ids, or refs of the same batch (before or after); the job is waiting until every one completed; unknown ids or refs and cycles are refused"
              },
              "on_parent_failure": {
                "type": "string",
                "enum": [
                  "cancel",
                  "run"
                ],
                "default": "cancel",
                "description": "what a dead or cancelled parent does: cancel this job, or run it once no parent is unfinished"
              },
              "limit_key": {
                "type": "string",
                "maxLength": 1024,
                "description": "the key its pool's concurrency_limit and rate count it under, instead of the payload field the pool names (CLI --key)"
              },
              "traceparent": {
                "type": "string",
                "description": "a W3C trace context the job's attempts join (default: the request's traceparent header)"
              }
            }
          },
          "Job": {
            "type": "object",
            "required": [
              "id",
              "type",
              "state",
              "priority",
              "attempts",
              "max_attempts",
              "payload",
              "progress",
              "errors",
              "created_at",
              "run_at",
              "started_at",
              "finished_at"
            ],
            "properties": {
              "id": {
                "type": "integer"
              },
              "type": {
                "type": "string"
              },
              "state": {
                "type": "string"
              },
              "priority": {
                "type": "integer"
              },
              "attempts": {
                "type": "integer"
              },
              "max_attempts": {
                "type": "integer"
              },
              "payload": {
                "type": "object"
              },
              "progress": {
                "type": "integer"
              },
              "errors": {
                "type": "array",
                "items": {
                  "type": "object",
                  "properties": {
                    "attempt": {
                      "type": "integer"
                    },
                    "message": {
                      "type": "string"
                    },
                    "at": {
                      "type": "string",
                      "format": "date-time"
                    },
                    "worker_pid": {
                      "type": [
                        "integer",
                        "null"
                      ]
                    }
                  }
                }
              },
              "created_at": {
                "type": "string",
                "format": "date-time"
              },
              "run_at": {
                "type": "string",
                "format": "date-time"
              },
              "started_at": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "finished_at": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "unique_key": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "worker_pid": {
                "type": [
                  "integer",
                  "null"
                ]
              },
              "cancel_requested": {
                "type": "boolean"
              },
              "cancel": {
                "type": "string",
                "enum": [
                  "cancelled",
                  "requested"
                ]
              },
              "on_parent_failure": {
                "type": "string",
                "enum": [
                  "cancel",
                  "run"
                ]
              },
              "limit_key": {
                "type": [
                  "string",
                  "null"
                ],
                "description": "the key its pool's limits count it under, once known"
              },
              "held": {
                "type": "boolean",
                "description": "a queued job a limit holds out of the claim order (why says which)"
              },
              "traceparent": {
                "type": [
                  "string",
                  "null"
                ],
                "description": "the W3C trace context it was enqueued with"
              },
              "result": {
                "description": "a completed job's result: the JSON its handler set (Swift: context.setResult; exec: a RESULT <json> line), null when none"
              },
              "parents": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/JobLink"
                }
              },
              "children": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/JobLink"
                }
              },
              "why": {
                "type": [
                  "string",
                  "null"
                ],
                "description": "what holds a waiting job, e.g. waiting on parents #12, #13 (1 of 3 done)"
              },
              "cpu_seconds": {
                "type": [
                  "number",
                  "null"
                ],
                "description": "CPU seconds (user + system) its last reporting attempt used, as its worker measured (an exec job: its command's); null when unknown"
              },
              "peak_rss_bytes": {
                "type": [
                  "integer",
                  "null"
                ],
                "description": "peak resident set size in bytes of its last reporting attempt; null when unknown"
              }
            }
          },
          "Alert": {
            "type": "object",
            "required": [
              "id",
              "alert",
              "severity",
              "state",
              "message",
              "fired_at",
              "notified_at",
              "notifications"
            ],
            "properties": {
              "id": {
                "type": "integer"
              },
              "alert": {
                "type": "string"
              },
              "severity": {
                "type": "string",
                "enum": [
                  "warning",
                  "critical"
                ]
              },
              "state": {
                "type": "string",
                "enum": [
                  "firing",
                  "resolved"
                ]
              },
              "pool": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "job": {
                "type": [
                  "integer",
                  "null"
                ]
              },
              "subject": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "message": {
                "type": "string"
              },
              "details": {
                "description": "the webhook body of the firing"
              },
              "fired_at": {
                "type": "string",
                "format": "date-time"
              },
              "resolved_at": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "acknowledged_at": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "acknowledged_by": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "notified_at": {
                "type": "string",
                "format": "date-time"
              },
              "notifications": {
                "type": "integer"
              }
            }
          },
          "JobLink": {
            "type": "object",
            "properties": {
              "id": {
                "type": "integer"
              },
              "state": {
                "type": [
                  "string",
                  "null"
                ],
                "description": "null: pruned"
              }
            },
            "required": [
              "id",
              "state"
            ]
          },
          "JobPage": {
            "type": "object",
            "properties": {
              "jobs": {
                "type": "array",
                "items": {
                  "$ref": "#/components/schemas/Job"
                }
              },
              "next": {
                "type": [
                  "string",
                  "null"
                ]
              }
            },
            "required": [
              "jobs"
            ]
          },
          "Stats": {
            "type": "object",
            "properties": {
              "waiting": {
                "type": "integer"
              },
              "scheduled": {
                "type": "integer"
              },
              "queued": {
                "type": "integer"
              },
              "running": {
                "type": "integer"
              },
              "completed": {
                "type": "integer"
              },
              "cancelled": {
                "type": "integer"
              },
              "dead": {
                "type": "integer"
              }
            }
          },
          "WindowStats": {
            "type": "object",
            "properties": {
              "window_seconds": {
                "type": "integer"
              },
              "since": {
                "type": "string",
                "format": "date-time"
              },
              "now": {
                "type": "string",
                "format": "date-time"
              },
              "completed": {
                "type": "integer"
              },
              "failed": {
                "type": "integer",
                "description": "failed attempts that will retry"
              },
              "dead": {
                "type": "integer"
              },
              "finished": {
                "type": "integer"
              },
              "error_rate": {
                "type": [
                  "number",
                  "null"
                ],
                "description": "(failed + dead) / finished"
              },
              "run_ms": {
                "type": "object",
                "properties": {
                  "avg": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "p95": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  }
                },
                "description": "milliseconds"
              },
              "wait_ms": {
                "type": "object",
                "properties": {
                  "avg": {
                    "type": [
                      "number",
                      "null"
                    ]
                  },
                  "p95": {
                    "type": [
                      "integer",
                      "null"
                    ]
                  }
                },
                "description": "milliseconds"
              },
              "last_finished_at": {
                "oneOf": [
                  {
                    "type": "string",
                    "format": "date-time"
                  },
                  {
                    "type": "null"
                  }
                ]
              },
              "minutes_since_last_finish": {
                "type": [
                  "number",
                  "null"
                ]
              },
              "stuck": {
                "type": "array",
                "items": {
                  "type": "object",
                  "properties": {
                    "id": {
                      "type": "integer"
                    },
                    "type": {
                      "type": "string"
                    },
                    "started_at": {
                      "type": "string",
                      "format": "date-time"
                    },
                    "running_seconds": {
                      "type": "integer"
                    }
                  }
                }
              },
              "types": {
                "type": "array",
                "items": {
                  "type": "object",
                  "properties": {
                    "type": {
                      "type": "string"
                    },
                    "completed": {
                      "type": "integer"
                    },
                    "failed": {
                      "type": "integer",
                      "description": "failed attempts that will retry"
                    },
                    "dead": {
                      "type": "integer"
                    },
                    "finished": {
                      "type": "integer"
                    },
                    "error_rate": {
                      "type": [
                        "number",
                        "null"
                      ],
                      "description": "(failed + dead) / finished"
                    },
                    "run_ms": {
                      "type": "object",
                      "properties": {
                        "avg": {
                          "type": [
                            "number",
                            "null"
                          ]
                        },
                        "p95": {
                          "type": [
                            "integer",
                            "null"
                          ]
                        }
                      },
                      "description": "milliseconds"
                    },
                    "wait_ms": {
                      "type": "object",
                      "properties": {
                        "avg": {
                          "type": [
                            "number",
                            "null"
                          ]
                        },
                        "p95": {
                          "type": [
                            "integer",
                            "null"
                          ]
                        }
                      },
                      "description": "milliseconds"
                    }
                  }
                }
              },
              "priorities": {
                "type": "array",
                "items": {
                  "type": "object",
                  "properties": {
                    "priority": {
                      "type": "integer"
                    },
                    "completed": {
                      "type": "integer"
                    },
                    "failed": {
                      "type": "integer",
                      "description": "failed attempts that will retry"
                    },
                    "dead": {
                      "type": "integer"
                    },
                    "finished": {
                      "type": "integer"
                    },
                    "error_rate": {
                      "type": [
                        "number",
                        "null"
                      ],
                      "description": "(failed + dead) / finished"
                    }
                  }
                }
              }
            }
          },
          "Pool": {
            "type": "object",
            "properties": {
              "name": {
                "type": "string"
              },
              "target": {
                "type": "integer"
              },
              "min": {
                "type": "integer"
              },
              "max": {
                "type": "integer"
              },
              "auto": {
                "type": "boolean"
              },
              "paused": {
                "type": "boolean"
              },
              "crash_looping": {
                "type": "boolean"
              },
              "types": {
                "type": "array",
                "items": {
                  "type": "string"
                }
              },
              "workers": {
                "type": "array",
                "items": {
                  "type": "object",
                  "properties": {
                    "pid": {
                      "type": "integer"
                    },
                    "busy": {
                      "type": "boolean"
                    },
                    "jobs_done": {
                      "type": "integer"
                    },
                    "ready": {
                      "type": "boolean"
                    },
                    "retiring": {
                      "type": "boolean"
                    },
                    "job": {
                      "type": [
                        "integer",
                        "null"
                      ]
                    },
                    "job_running_ms": {
                      "type": [
                        "number",
                        "null"
                      ],
                      "description": "how long the current job has run"
                    },
                    "claimed": {
                      "type": "array",
                      "items": {
                        "type": "integer"
                      },
                      "description": "jobs handed to the worker, not started (prefetched)"
                    },
                    "rss_bytes": {
                      "type": [
                        "integer",
                        "null"
                      ],
                      "description": "the worker process's resident set size, sampled every 2 s; null before the first sample"
                    },
                    "cpu_seconds": {
                      "type": [
                        "number",
                        "null"
                      ],
                      "description": "CPU seconds the worker process has used (its reaped exec commands' included), sampled every 2 s"
                    }
                  }
                }
              }
            }
          },
          "Health": {
            "type": "object",
            "properties": {
              "status": {
                "type": "string",
                "enum": [
                  "healthy",
                  "degraded",
                  "unhealthy"
                ]
              },
              "reasons": {
                "type": "array",
                "items": {
                  "type": "string"
                }
              }
            },
            "required": [
              "status",
              "reasons"
            ]
          }
        }
      }
    }
    """#
}
