//! `/v1/appointments` through the real server: booking, listing, moving and
//! cancelling with their errors; no double-booking under 50 concurrent
//! requests; free slots that follow bookings, buffer, notice, advance and the
//! time zone; isolation between projects; the iCalendar feed; and a call in
//! which the model books, moves and cancels through the appointment tools.

use jiff::tz::TimeZone;
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_domain::keys::KeyScope;
use switchboard_domain::time::{iso, parse_iso};
use switchboard_testkit::llm::{Reply, ScriptedLlm};

use crate::common::{TestServer, assert_error, call_requests, send};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// Open every day around the clock in UTC, no buffer or notice: only
/// overlaps refuse a booking.
fn open_all_day() -> Value {
    let day = json!([{"start": "00:00", "end": "24:00"}]);
    json!({
        "time_zone": "UTC",
        "working_hours": {"monday": day, "tuesday": day, "wednesday": day, "thursday": day,
                          "friday": day, "saturday": day, "sunday": day},
        "slot_minutes": 30, "buffer_minutes": 0, "min_notice_minutes": 0, "max_advance_days": 365
    })
}

/// Midnight UTC `days` days from the server's now.
fn midnight_in(s: &TestServer, days: i64) -> i64 {
    (s.store().clock().now_ms() / DAY + days) * DAY
}

async fn open_calendar(s: &TestServer) {
    let resp = s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(open_all_day())).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
}

fn booking(start: i64, minutes: i64) -> Value {
    json!({"title": "Demo", "start_time": iso(start), "duration_minutes": minutes, "contact_phone": "+31612345678"})
}

fn id(resp: &crate::common::Resp) -> String {
    resp.body["id"].as_str().expect("id").to_owned()
}

/// The events the project's outbox holds, oldest first.
async fn events(s: &TestServer) -> Vec<(String, Value)> {
    let pool = sqlx::AnyPool::connect(&s.config.database_url).await.expect("open the database");
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT event, payload FROM events WHERE project_id = $1 AND event LIKE 'appointment.%' ORDER BY id",
    )
    .bind(&s.boot.project_id)
    .fetch_all(&pool)
    .await
    .expect("events");
    pool.close().await;
    rows.into_iter().map(|(event, payload)| (event, serde_json::from_str(&payload).expect("json"))).collect()
}

#[tokio::test]
async fn appointments_are_booked_listed_moved_and_cancelled_with_clear_errors() {
    let s = TestServer::start().await;
    open_calendar(&s).await;
    let agent = s.create_agent(json!({"name": "Front desk"})).await;
    let ten = midnight_in(&s, 10) + 10 * HOUR;

    let mut body = booking(ten, 30);
    body["agent_id"] = json!(agent);
    body["time_zone"] = json!("Europe/Amsterdam");
    body["notes"] = json!("Wants the CRM integration");
    let created = s.post("/v1/appointments", body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let first = id(&created);
    assert!(first.starts_with("appt_"));
    assert_eq!(created.body["status"], "scheduled");
    assert_eq!(created.body["start_time"], iso(ten));
    assert_eq!(created.body["end_time"], iso(ten + HOUR / 2));
    assert_eq!(created.body["duration_minutes"], 30);
    assert_eq!(created.body["time_zone"], "Europe/Amsterdam");
    assert_eq!(created.body["agent_id"], agent);
    assert_eq!(created.body["contact_phone"], "+31612345678");
    assert_eq!(s.get(&format!("/v1/appointments/{first}")).await.body, created.body);

    // Bad input names its field; an unknown agent or contact is 404.
    let mut bad_zone = booking(ten + DAY, 30);
    bad_zone["time_zone"] = json!("Mars/Olympus");
    let resp = s.post("/v1/appointments", bad_zone).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert!(resp.body["details"]["time_zone"].as_str().is_some_and(|m| m.contains("Mars/Olympus")), "{}", resp.body);
    let backwards = json!({"title": "x", "start_time": iso(ten + DAY), "end_time": iso(ten + DAY - HOUR)});
    let resp = s.post("/v1/appointments", backwards).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert_eq!(resp.body["details"]["end_time"], "Must be after start_time.");
    for (field, bad) in [
        ("start_time", json!({"title": "x", "start_time": "tomorrow at ten"})),
        ("title", json!({"title": " ", "start_time": iso(ten + DAY)})),
        ("contact_phone", json!({"title": "x", "start_time": iso(ten + DAY), "contact_phone": "0612345678"})),
        ("status", json!({"title": "x", "start_time": iso(ten + DAY), "status": "completed"})),
    ] {
        let resp = s.post("/v1/appointments", bad).await;
        assert_error(&resp, 400, "VALIDATION_ERROR");
        assert!(resp.body["details"][field].is_string(), "{field}: {}", resp.body);
    }
    let mut stranger = booking(ten + DAY, 30);
    stranger["agent_id"] = json!("agent_01jzzzzzzzzzzzzzzzzzzzzzzz");
    let resp = s.post("/v1/appointments", stranger).await;
    assert_error(&resp, 404, "NOT_FOUND");
    assert_eq!(resp.body["message"], "Agent not found.");
    let mut nobody = booking(ten + DAY, 30);
    nobody["contact_id"] = json!("contact_01jzzzzzzzzzzzzzzzzzzzzzzz");
    assert_error(&s.post("/v1/appointments", nobody).await, 404, "NOT_FOUND");
    let mut no_call = booking(ten + DAY, 30);
    no_call["call_id"] = json!("call_01jzzzzzzzzzzzzzzzzzzzzzzz");
    let resp = s.post("/v1/appointments", no_call).await;
    assert_error(&resp, 404, "NOT_FOUND");
    assert_eq!(resp.body["message"], "Call not found.");

    // An overlap is 409, whichever side overlaps; touching is fine.
    for start in [ten, ten - HOUR / 4, ten + HOUR / 4] {
        assert_error(&s.post("/v1/appointments", booking(start, 30)).await, 409, "APPOINTMENT_CONFLICT");
    }
    let next = s.post("/v1/appointments", booking(ten + HOUR / 2, 30)).await;
    assert_eq!(next.status, 201, "{}", next.body);
    let second = id(&next);

    // Rescheduling into a taken slot is 409; into a free one moves it.
    let into_first = s.patch(&format!("/v1/appointments/{second}"), json!({"start_time": iso(ten)})).await;
    assert_error(&into_first, 409, "APPOINTMENT_CONFLICT");
    let moved = s.patch(&format!("/v1/appointments/{second}"), json!({"start_time": iso(ten + 2 * HOUR)})).await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["end_time"], iso(ten + 2 * HOUR + HOUR / 2), "the length is kept");
    let longer = s.patch(&format!("/v1/appointments/{second}"), json!({"duration_minutes": 60, "notes": "long"})).await;
    assert_eq!(longer.body["end_time"], iso(ten + 3 * HOUR), "{}", longer.body);
    assert_eq!(longer.body["notes"], "long");
    let confirmed = s.patch(&format!("/v1/appointments/{second}"), json!({"status": "confirmed"})).await;
    assert_eq!(confirmed.body["status"], "confirmed");

    // Cancelled, the slot can be booked again; the cancelled one stays closed.
    let cancelled = s.post(&format!("/v1/appointments/{first}/cancel"), json!({"reason": "caller is ill"})).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["cancel_reason"], "caller is ill");
    let again = s.post(&format!("/v1/appointments/{first}/cancel"), json!(null)).await;
    assert_eq!((again.status, &again.body["status"]), (200, &json!("cancelled")), "cancelling twice is harmless");
    let rebooked = s.post("/v1/appointments", booking(ten, 30)).await;
    assert_eq!(rebooked.status, 201, "{}", rebooked.body);
    let closed = s.patch(&format!("/v1/appointments/{first}"), json!({"start_time": iso(ten + 5 * HOUR)})).await;
    assert_error(&closed, 409, "APPOINTMENT_CLOSED");
    let reopened = s.patch(&format!("/v1/appointments/{first}"), json!({"status": "scheduled"})).await;
    assert_error(&reopened, 409, "APPOINTMENT_CLOSED");

    // Lists: filters and cursor pages, newest booking first.
    let all = s.get("/v1/appointments?limit=2").await;
    assert_eq!(all.status, 200, "{}", all.body);
    let page: Vec<&str> =
        all.body["appointments"].as_array().unwrap().iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(page, [id(&rebooked).as_str(), second.as_str()]);
    let cursor = all.body["next_cursor"].as_str().expect("a next page");
    let rest = s.get(&format!("/v1/appointments?limit=2&after={cursor}")).await;
    assert_eq!(rest.body["appointments"][0]["id"], first);
    assert!(rest.body["next_cursor"].is_null());
    let server = &s;
    let of = |query: &str| {
        let path = format!("/v1/appointments?{query}");
        async move { server.get(&path).await.body["appointments"].as_array().map_or(0, Vec::len) }
    };
    assert_eq!(of("status=cancelled").await, 1);
    assert_eq!(of("status=confirmed").await, 1);
    assert_eq!(of(&format!("agent_id={agent}")).await, 1);
    assert_eq!(of("contact_phone=%2B31612345678").await, 3);
    assert_eq!(of(&format!("from={}&to={}", iso(ten + HOUR), iso(ten + 4 * HOUR))).await, 1);
    let day = &iso(ten)[..10];
    assert_eq!(of(&format!("from={day}&to={day}")).await, 3);
    assert_error(&s.get("/v1/appointments?status=late").await, 400, "VALIDATION_ERROR");
    assert_error(&s.get("/v1/appointments?from=soon").await, 400, "VALIDATION_ERROR");
    assert_error(&s.get("/v1/appointments?colour=red").await, 400, "VALIDATION_ERROR");
    assert_error(&s.get("/v1/appointments/appt_01jzzzzzzzzzzzzzzzzzzzzzzz").await, 404, "NOT_FOUND");

    // Every change went out as an event, with the appointment.
    let sent: Vec<(String, String)> = events(&s)
        .await
        .into_iter()
        .map(|(event, envelope)| (event, envelope["data"]["id"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let expected = [
        ("appointment.booked", &first),
        ("appointment.booked", &second),
        ("appointment.rescheduled", &second),
        ("appointment.rescheduled", &second),
        ("appointment.cancelled", &first),
        ("appointment.booked", &id(&rebooked)),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(e, i)| ((*e).to_owned(), (*i).clone())).collect();
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn bookings_outside_the_availability_are_refused_unless_forced() {
    let s = TestServer::start().await;
    let mut hours = open_all_day();
    hours["working_hours"] = json!({"monday": [{"start": "09:00", "end": "17:00"}]});
    hours["buffer_minutes"] = json!(15);
    let put = s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(hours)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    // The first Monday at least two days away, 09:00 UTC.
    let mut monday = midnight_in(&s, 2);
    while jiff::Timestamp::from_millisecond(monday).unwrap().to_zoned(TimeZone::UTC).weekday()
        != jiff::civil::Weekday::Monday
    {
        monday += DAY;
    }
    let nine = monday + 9 * HOUR;
    let evening = s.post("/v1/appointments", booking(nine + 9 * HOUR, 30)).await;
    assert_error(&evening, 400, "VALIDATION_ERROR");
    assert!(evening.body["details"]["start_time"].as_str().is_some_and(|m| m.contains("working hours")));
    let mut forced = booking(nine + 9 * HOUR, 30);
    forced["force"] = json!(true);
    assert_eq!(s.post("/v1/appointments", forced).await.status, 201);
    assert_eq!(s.post("/v1/appointments", booking(nine, 30)).await.status, 201);
    let too_close = s.post("/v1/appointments", booking(nine + 40 * 60_000, 30)).await;
    assert_error(&too_close, 409, "APPOINTMENT_CONFLICT");
    assert!(too_close.body["message"].as_str().is_some_and(|m| m.contains("15 minutes")), "{}", too_close.body);
    assert_eq!(s.post("/v1/appointments", booking(nine + 45 * 60_000, 30)).await.status, 201);
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_overlapping_slots_store_exactly_one() {
    let s = TestServer::start().await;
    open_calendar(&s).await;
    let ten = midnight_in(&s, 3) + 10 * HOUR;
    // Every request starts a minute after the previous one and lasts an
    // hour: any two of them overlap.
    let requests = (0..50).map(|i| {
        let body = booking(ten + i * 60_000, 60);
        let req = s.request(Method::POST, "/v1/appointments").bearer_auth(s.key()).json(&body);
        async move { send(req).await }
    });
    let answers = futures_util::future::join_all(requests).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    let refused = answers.iter().filter(|r| r.status == 409 && r.code() == "APPOINTMENT_CONFLICT").count();
    assert_eq!((created, refused), (1, 49), "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    let stored = s.get("/v1/appointments?limit=100").await;
    assert_eq!(stored.body["appointments"].as_array().map(Vec::len), Some(1), "{}", stored.body);
    assert_eq!(events(&s).await.len(), 1, "one appointment.booked");
}

#[tokio::test]
async fn the_database_itself_refuses_overlapping_active_appointments() {
    let s = TestServer::start().await;
    let pool = sqlx::AnyPool::connect(&s.config.database_url).await.expect("open the database");
    let insert = |id: &'static str, start: i64, end: i64, status: &'static str| {
        let pool = pool.clone();
        let project = s.boot.project_id.clone();
        async move {
            sqlx::query(
                "INSERT INTO appointments (id, org_id, project_id, title, start_at, end_at, time_zone, status, \
                 created_at, updated_at) VALUES ($1, 'org', $2, 't', $3, $4, 'UTC', $5, 0, 0)",
            )
            .bind(id)
            .bind(project)
            .bind(start)
            .bind(end)
            .bind(status)
            .execute(&pool)
            .await
        }
    };
    insert("a1", 0, 60, "scheduled").await.expect("the first");
    let error = insert("a2", 30, 90, "confirmed").await.expect_err("an overlap");
    assert!(error.to_string().contains("appointments_no_overlap"), "{error}");
    insert("a3", 30, 90, "cancelled").await.expect("a closed one holds no time");
    insert("a4", 60, 90, "scheduled").await.expect("touching is no overlap");
    let moved = sqlx::query("UPDATE appointments SET start_at = 50 WHERE id = 'a4'").execute(&pool).await;
    assert!(moved.expect_err("moving into another").to_string().contains("appointments_no_overlap"));
    pool.close().await;
}

#[tokio::test]
async fn available_slots_leave_out_bookings_and_their_buffer_and_follow_the_zone() {
    let s = TestServer::start().await;
    let zone = TimeZone::get("Europe/Amsterdam").unwrap();
    let hours = json!([{"start": "09:00", "end": "14:00"}]);
    let settings = json!({
        "time_zone": "Europe/Amsterdam",
        "working_hours": {"monday": hours, "tuesday": hours, "wednesday": hours, "thursday": hours,
                          "friday": hours, "saturday": hours, "sunday": hours},
        "slot_minutes": 60, "buffer_minutes": 0, "min_notice_minutes": 0, "max_advance_days": 30
    });
    let put = s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(settings.clone())).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let read = s.get("/v1/appointments/availability").await;
    assert_eq!(read.body["source"], "project");
    // What a GET shows is what a PUT takes.
    let again = s
        .call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(read.body["availability"].clone()))
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["availability"], read.body["availability"]);
    assert_eq!(read.body["availability"]["time_zone"], settings["time_zone"]);

    let date = jiff::Timestamp::from_millisecond(midnight_in(&s, 10)).unwrap().to_zoned(zone.clone()).date();
    let at = |hour: i8| date.at(hour, 0, 0, 0).to_zoned(zone.clone()).unwrap().timestamp().as_millisecond();
    let server = &s;
    let slots = |query: String| {
        let path = format!("/v1/appointments/available-slots?{query}");
        async move {
            let resp = server.get(&path).await;
            assert_eq!(resp.status, 200, "{}", resp.body);
            resp.body["days"][0]["slots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|slot| parse_iso(slot["start_time"].as_str().unwrap()).unwrap())
                .collect::<Vec<i64>>()
        }
    };
    let free = slots(format!("date={date}&duration=60")).await;
    assert_eq!(free, [at(9), at(10), at(11), at(12), at(13)], "09:00–14:00 Amsterdam time, hourly");

    assert_eq!(s.post("/v1/appointments", booking(at(10), 60)).await.status, 201);
    assert_eq!(slots(format!("date={date}&duration=60")).await, [at(9), at(11), at(12), at(13)]);
    let mut buffered = settings.clone();
    buffered["buffer_minutes"] = json!(15);
    s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(buffered)).await;
    assert_eq!(slots(format!("date={date}&duration=60")).await, [at(12), at(13)]);
    // A cancelled booking frees its time again.
    let booked = s.get("/v1/appointments").await.body["appointments"][0]["id"].as_str().unwrap().to_owned();
    s.post(&format!("/v1/appointments/{booked}/cancel"), json!({})).await;
    assert_eq!(slots(format!("date={date}&duration=60")).await.len(), 5);

    for (field, value) in [("max_advance_days", 5), ("min_notice_minutes", 43_200)] {
        let mut limited = settings.clone();
        limited[field] = json!(value);
        s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(limited)).await;
        let resp = s.get(&format!("/v1/appointments/available-slots?date={date}&days=2")).await;
        assert_eq!(resp.body["days"][0]["available"], false, "{field}: {}", resp.body);
        assert_eq!(resp.body["days"].as_array().map(Vec::len), Some(2));
    }

    s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(settings.clone())).await;

    // An agent's own availability replaces the project's for that agent only.
    let agent = s.create_agent(json!({"name": "Evenings"})).await;
    let mut evenings = settings.clone();
    evenings["working_hours"] = json!({});
    let own = s
        .call(Method::PUT, &format!("/v1/appointments/availability?agent_id={agent}"), Some(s.key()), Some(evenings))
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert!(slots(format!("date={date}&agent_id={agent}")).await.is_empty());
    assert_eq!(slots(format!("date={date}")).await.len(), 5);
    let path = format!("/v1/appointments/availability?agent_id={agent}");
    assert_eq!(s.call(Method::DELETE, &path, Some(s.key()), None).await.status, 204);
    assert_eq!(s.get(&path).await.body["source"], "project");

    for bad in ["date=soon", "date=2027-01-01&days=0", "date=2027-01-01&duration=2", "days=2"] {
        assert_error(&s.get(&format!("/v1/appointments/available-slots?{bad}")).await, 400, "VALIDATION_ERROR");
    }
    let mut wrong = settings;
    wrong["time_zone"] = json!("Europe/Atlantis");
    wrong["working_hours"]["monday"] = json!([{"start": "17:00", "end": "09:00"}]);
    let resp = s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(wrong)).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
    assert!(
        resp.body["details"]["time_zone"].is_string() && resp.body["details"]["working_hours.monday[0]"].is_string()
    );
}

#[tokio::test]
async fn another_projects_key_finds_nothing() {
    let s = TestServer::start().await;
    open_calendar(&s).await;
    let ten = midnight_in(&s, 5) + 10 * HOUR;
    let mine = id(&s.post("/v1/appointments", booking(ten, 30)).await);
    let agent = s.create_agent(json!({"name": "Mine"})).await;

    let other = s.store().create_project(&s.boot.org_id, "Other", None).await.expect("project");
    let (_, key) = s.store().create_project_key(&s.boot.org_id, &other.id, "k", KeyScope::Full).await.expect("key");
    let theirs = |method: Method, path: String, body: Option<Value>| {
        let key = key.clone();
        let s = &s;
        async move { s.call(method, &path, Some(&key), body).await }
    };
    assert_error(&theirs(Method::GET, format!("/v1/appointments/{mine}"), None).await, 404, "NOT_FOUND");
    let moved = theirs(Method::PATCH, format!("/v1/appointments/{mine}"), Some(json!({"title": "x"}))).await;
    assert_error(&moved, 404, "NOT_FOUND");
    let cancel = theirs(Method::POST, format!("/v1/appointments/{mine}/cancel"), None).await;
    assert_error(&cancel, 404, "NOT_FOUND");
    let listed = theirs(Method::GET, "/v1/appointments".into(), None).await;
    assert_eq!(listed.body["appointments"], json!([]));
    let with_agent = json!({"title": "x", "start_time": iso(ten + DAY), "agent_id": agent, "force": true});
    assert_error(&theirs(Method::POST, "/v1/appointments".into(), Some(with_agent)).await, 404, "NOT_FOUND");
    // Their calendar is their own: the same time is free there.
    let mut same = booking(ten, 30);
    same["force"] = json!(true);
    assert_eq!(theirs(Method::POST, "/v1/appointments".into(), Some(same)).await.status, 201);
    let availability = theirs(Method::GET, "/v1/appointments/availability".into(), None).await;
    assert_eq!(availability.body["source"], "default");
    let path = format!("/v1/appointments/availability?agent_id={agent}");
    assert_error(&theirs(Method::GET, path, None).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn the_calendar_feed_is_valid_icalendar_at_a_secret_address() {
    let s = TestServer::start().await;
    open_calendar(&s).await;
    let ten = midnight_in(&s, 4) + 10 * HOUR;
    let mut long = booking(ten, 30);
    long["title"] = json!("Démo; with a title long enough to be folded, and commas, across more than one line");
    long["notes"] = json!("Line one\nLine two");
    let kept = id(&s.post("/v1/appointments", long).await);
    let dropped = id(&s.post("/v1/appointments", booking(ten + HOUR, 30)).await);
    s.post(&format!("/v1/appointments/{dropped}/cancel"), json!({})).await;

    assert_eq!(s.get("/v1/appointments/calendar-feed").await.body["enabled"], false);
    let made = s.post("/v1/appointments/calendar-feed", json!({})).await;
    assert_eq!(made.status, 201, "{}", made.body);
    let path = made.body["path"].as_str().expect("path").to_owned();
    assert!(path.starts_with("/v1/appointments/calendar/cal_") && path.ends_with(".ics"), "{path}");
    assert_eq!(made.body["url"], format!("{}{path}", s.base), "dev mode knows its public URL");
    assert_eq!(s.get("/v1/appointments/calendar-feed").await.body["enabled"], true);

    let resp = s.request(Method::GET, &path).send().await.expect("feed");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let ics = resp.text().await.expect("body");
    assert!(ics.split("\r\n").all(|line| line.len() <= 75), "folded at 75 octets:\n{ics}");
    assert!(!ics.replace("\r\n", "").contains('\n'), "CRLF line ends");

    let calendar: icalendar::Calendar = ics.parse().expect("valid iCalendar");
    let events: Vec<&icalendar::Event> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
    use icalendar::Component;
    assert_eq!(events.len(), 2);
    let first = events.iter().find(|e| e.get_uid().is_some_and(|u| u.starts_with(&kept))).expect("kept event");
    assert_eq!(
        first.get_summary(),
        Some("Démo; with a title long enough to be folded, and commas, across more than one line")
    );
    assert!(first.get_description().is_some_and(|d| d.contains("Line one\nLine two")), "{:?}", first.get_description());
    assert_eq!(first.property_value("DTSTART"), Some(iso(ten).replace(['-', ':'], "").replace(".000", "").as_str()));
    assert_eq!(first.get_status(), Some(icalendar::EventStatus::Confirmed));
    let second = events.iter().find(|e| e.get_uid().is_some_and(|u| u.starts_with(&dropped))).expect("cancelled event");
    assert_eq!(second.get_status(), Some(icalendar::EventStatus::Cancelled));
    assert!(first.property_value("DTSTAMP").is_some());

    // A new address replaces the old; turned off, none works.
    let renewed = s.post("/v1/appointments/calendar-feed", json!({})).await.body["path"].as_str().unwrap().to_owned();
    assert_eq!(s.request(Method::GET, &path).send().await.unwrap().status(), 404);
    assert_eq!(s.request(Method::GET, &renewed).send().await.unwrap().status(), 200);
    assert_eq!(s.delete("/v1/appointments/calendar-feed").await.status, 204);
    assert_eq!(s.request(Method::GET, &renewed).send().await.unwrap().status(), 404);
    assert_error(&s.delete("/v1/appointments/calendar-feed").await, 404, "NOT_FOUND");
    let guessed = s.request(Method::GET, "/v1/appointments/calendar/cal_guess.ics").send().await.unwrap();
    assert_eq!(guessed.status(), 404);
}

#[tokio::test]
async fn a_caller_books_moves_and_cancels_through_the_models_tools() {
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    open_calendar(&s).await;
    let day = midnight_in(&s, 6);
    let date = &iso(day)[..10];
    let eleven = day + 11 * HOUR;
    let llm = ScriptedLlm::start(vec![
        Reply::ToolCalls(vec![("check_availability".into(), json!({"date": date, "days": 1}))]),
        Reply::Text("I have ten or eleven. Which one?".into()),
        Reply::ToolCalls(vec![(
            "book_appointment".into(),
            json!({"start_time": format!("{date}T10:00:00+00:00"), "name": "Jane Doe", "title": "Check-up"}),
        )]),
        Reply::Text("You are booked at ten.".into()),
        Reply::ToolCalls(vec![("reschedule_appointment".into(), json!({"start_time": format!("{date}T11:00:00Z")}))]),
        Reply::Text("Moved to eleven.".into()),
        Reply::ToolCalls(vec![("cancel_appointment".into(), json!({"reason": "feeling better"}))]),
        Reply::Text("It is cancelled. Goodbye!".into()),
        Reply::ToolCalls(vec![("end_call".into(), json!({}))]),
    ])
    .await;
    let agent = s
        .create_agent(json!({
            "name": "Clinic",
            "first_message": "Clinic, how can I help?",
            "appointments_enabled": true,
            "end_call_enabled": true,
            "silence_timeout_seconds": 600,
            "llm": {"base_url": llm.base_url(), "model": "test-model"}
        }))
        .await;
    let call = s
        .inbound_call(
            &agent,
            json!([{"say": "I need an appointment"}, {"say": "Ten please"}, {"say": "Can we make it eleven?"},
                   {"say": "Actually, cancel it"}, {"say": "Bye"}, {"wait": 600}]),
        )
        .await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["ended_reason"], "agent-hangup", "{c}");
    assert_eq!(
        c["tools_called"],
        json!(["check_availability", "book_appointment", "reschedule_appointment", "cancel_appointment", "end_call"])
    );

    let listed = s.get("/v1/appointments").await;
    let appointments = listed.body["appointments"].as_array().expect("list");
    assert_eq!(appointments.len(), 1, "{}", listed.body);
    let booked = &appointments[0];
    assert_eq!(booked["status"], "cancelled");
    assert_eq!(booked["cancel_reason"], "feeling better");
    assert_eq!(booked["start_time"], iso(eleven));
    assert_eq!(booked["contact_phone"], "+31612345678", "the caller's number is the contact");
    assert_eq!(booked["contact_name"], "Jane Doe");
    assert_eq!(booked["agent_id"], agent);
    assert_eq!(booked["call_id"], call);
    let sent: Vec<String> = events(&s).await.into_iter().map(|(event, _)| event).collect();
    assert_eq!(sent, ["appointment.booked", "appointment.rescheduled", "appointment.cancelled"]);

    // The model was offered the tools and heard every result.
    let requests = call_requests(llm.requests());
    let tools: Vec<&str> =
        requests[0]["tools"].as_array().into_iter().flatten().filter_map(|t| t["function"]["name"].as_str()).collect();
    for tool in ["check_availability", "book_appointment", "reschedule_appointment", "cancel_appointment"] {
        assert!(tools.contains(&tool), "{tool} offered: {tools:?}");
    }
    let results: Vec<Value> = requests
        .last()
        .and_then(|r| r["messages"].as_array())
        .into_iter()
        .flatten()
        .filter(|m| m["role"] == "tool")
        .filter_map(|m| serde_json::from_str(m["content"].as_str()?).ok())
        .collect();
    assert_eq!(results.len(), 4, "{results:?}");
    let slots = results[0]["days"][0]["slots"].as_array().expect("slots");
    assert!(slots.contains(&json!(format!("{date}T10:00:00+00:00"))), "{slots:?}");
    assert_eq!(results[1]["booked"], true, "{}", results[1]);
    assert_eq!(results[1]["appointment"]["start_time"], format!("{date}T10:00:00+00:00"));
    assert_eq!(results[2]["rescheduled"], true, "{}", results[2]);
    assert_eq!(results[3]["cancelled"], true, "{}", results[3]);
}

#[tokio::test]
async fn a_due_reminder_goes_out_once_by_sms() {
    let s = TestServer::start().await;
    let mut settings = open_all_day();
    settings["reminder_offsets_minutes"] = json!([1440, 60]);
    let put = s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(settings)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["availability"]["reminder_offsets_minutes"], json!([1440, 60]));
    let soon = (s.store().clock().now_ms() / 60_000 + 30) * 60_000;
    let mut due = booking(soon, 30);
    due["title"] = json!("Check-up");
    due["time_zone"] = json!("Europe/Amsterdam");
    assert_eq!(s.post("/v1/appointments", due).await.status, 201);
    // Not due yet (two days away), and cancelled: neither gets a reminder.
    let mut later = booking(soon + 2 * DAY, 30);
    later["contact_phone"] = json!("+31687654321");
    assert_eq!(s.post("/v1/appointments", later).await.status, 201);
    let mut called_off = booking(soon + HOUR, 30);
    called_off["contact_phone"] = json!("+31611111111");
    let called_off = id(&s.post("/v1/appointments", called_off).await);
    s.post(&format!("/v1/appointments/{called_off}/cancel"), json!({})).await;

    let reminders = || {
        s.state
            .channels
            .simulated()
            .deliveries()
            .into_iter()
            .filter(|d| d.message.body.starts_with("Reminder:"))
            .collect::<Vec<_>>()
    };
    // The worker may get there first; either way one SMS goes out.
    switchboard_runtime::appointments::reminders::send_due(s.store(), &s.state.channels).await.expect("a pass");
    for _ in 0..500 {
        if !reminders().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    switchboard_runtime::appointments::reminders::send_due(s.store(), &s.state.channels).await.expect("a pass");
    let sent = reminders();
    assert_eq!(sent.len(), 1, "one SMS for both due offsets, once: {sent:?}");
    assert_eq!(sent[0].message.to, "+31612345678");
    assert_eq!(sent[0].message.from.as_deref(), Some("Switchboard"));
    assert!(sent[0].message.body.starts_with("Reminder: Check-up on "), "{}", sent[0].message.body);
    assert!(sent[0].message.body.ends_with("(Europe/Amsterdam)."), "{}", sent[0].message.body);

    let mut wrong = open_all_day();
    wrong["reminder_offsets_minutes"] = json!([1]);
    let resp = s.call(Method::PUT, "/v1/appointments/availability", Some(s.key()), Some(wrong)).await;
    assert_error(&resp, 400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn without_a_model_the_embedded_brain_books_moves_and_cancels() {
    let s = TestServer::start_with(|c| c.runtime.clock_speed = 100.0).await;
    open_calendar(&s).await;
    let agent = s
        .create_agent(json!({"name": "Desk", "first_message": "Desk, how can I help?", "appointments_enabled": true,
                             "silence_timeout_seconds": 600}))
        .await;
    let call = s
        .inbound_call(
            &agent,
            json!([{"say": "I would like to book an appointment"}, {"say": "The second one, please"},
                   {"say": "Can I move my appointment?"}, {"say": "The second one"},
                   {"say": "Please cancel my appointment"}, {"say": "Yes"},
                   {"say": "What are your opening hours?"}, {"hangup": true}]),
        )
        .await;
    let c = s.finished_call(&call).await;
    assert_eq!(c["brain"], "embedded", "{c}");
    let said: Vec<&str> =
        c["transcript"].as_array().into_iter().flatten().filter_map(|t| t["content"].as_str()).collect();
    let agent_lines: Vec<&str> = said.iter().copied().skip(2).step_by(2).collect();
    assert!(
        agent_lines[0].starts_with("I can book you on ")
            && agent_lines[0].ends_with("the first, the second or the third?"),
        "{said:?}"
    );
    assert!(agent_lines[1].starts_with("You are booked for "), "{said:?}");
    assert!(agent_lines[2].starts_with("I can move your appointment to "), "{said:?}");
    assert!(agent_lines[3].starts_with("Done: your appointment is now on "), "{said:?}");
    assert!(agent_lines[4].starts_with("Shall I cancel your appointment on "), "{said:?}");
    assert!(
        agent_lines[5].starts_with("Your appointment on ") && agent_lines[5].ends_with("is cancelled."),
        "{said:?}"
    );
    assert!(!agent_lines[6].contains("appointment"), "other questions go to the rest of the brain: {said:?}");

    let listed = s.get("/v1/appointments").await;
    let appointments = listed.body["appointments"].as_array().expect("list");
    assert_eq!(appointments.len(), 1, "{}", listed.body);
    assert_eq!(appointments[0]["status"], "cancelled");
    assert_eq!(appointments[0]["contact_phone"], "+31612345678");
    assert_eq!(appointments[0]["call_id"], call);
    let sent: Vec<String> = events(&s).await.into_iter().map(|(event, _)| event).collect();
    assert_eq!(sent, ["appointment.booked", "appointment.rescheduled", "appointment.cancelled"]);
}
