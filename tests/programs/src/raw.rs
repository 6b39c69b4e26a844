//! Raw bindings of the capsock WIT, for the guests that call it without
//! the SDK on purpose (`#[path = "../raw.rs"] mod raw;`).

wit_bindgen::generate!({
    path: "../../wit",
    world: "capsock:sockets/imports",
    ownership: Borrowing { duplicate_if_necessary: true },
    features: ["clocks-timezone"],
    generate_all,
});
